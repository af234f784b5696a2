import t from 'tap';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { encryptSecret, SecretError } from '../../../runner/envelope/index.js';
import { agentEnvironment, AGENT_KEY_PASSPHRASE_ENV } from '../../../runner/agent/environment.js';
import { AgentSetupError } from '../../../runner/agent/errors.js';
import { SecretRegistry } from '../../../runner/agent/logger.js';
import { prepareStateDir, type StateLayout } from '../../../runner/agent/state-dir.js';
import { testKey, TEST_PASSPHRASE } from '../../helpers/keys.js';

/** The plain value inside a Pulumi Output, and whether it is secret. */
async function reveal(output: pulumi.Output<string>): Promise<{ value: string; secret: boolean }> {
  const value = await new Promise<string>((resolve) => output.apply((v) => resolve(v)));
  return { value, secret: await pulumi.isSecret(output) };
}

async function boxState(t: { testdir(): string }, agentKeyArmored?: string): Promise<StateLayout> {
  const layout = await prepareStateDir(t.testdir());
  await mkdir(layout.secrets, { recursive: true, mode: 0o700 });
  await chmod(layout.secrets, 0o700);
  if (agentKeyArmored) {
    await mkdir(join(layout.root, 'keys'), { recursive: true, mode: 0o700 });
    await writeFile(layout.agentKey, agentKeyArmored, { mode: 0o600 });
  }
  return layout;
}

t.test('an { encrypted } secret is decrypted with the agent key and reaches the program only as a Pulumi secret', async (t) => {
  const agent = await testKey('agent');
  const layout = await boxState(t, agent.privateArmored);
  const ciphertext = await encryptSecret('tunnel-token-plaintext', agent.publicArmored);
  const secrets = new SecretRegistry();
  const spec = { spec: { edge: { tunnel: { token: { encrypted: ciphertext } } } } };
  const env = await agentEnvironment(spec, { layout, env: { [AGENT_KEY_PASSPHRASE_ENV]: TEST_PASSPHRASE }, secrets, needsProxmoxToken: false });
  t.same(await reveal(env.secret({ encrypted: ciphertext })), { value: 'tunnel-token-plaintext', secret: true });
  t.equal(secrets.redact('log: tunnel-token-plaintext'), 'log: [secret]', 'the logger redacts it from then on');
  t.equal(env.proxmoxApiToken, undefined, 'no Proxmox token outside the host tier');
});

t.test('a { ref } secret and the host tier\'s Proxmox token come from the state directory', async (t) => {
  const layout = await boxState(t);
  await writeFile(join(layout.secrets, 'pbs-token'), 'pbs-token-value', { mode: 0o600 });
  await writeFile(join(layout.secrets, 'proxmox-api-token'), 'root@pam!felhom=uuid', { mode: 0o600 });
  const env = await agentEnvironment({ password: { ref: 'pbs-token' } }, { layout, env: {}, secrets: new SecretRegistry(), needsProxmoxToken: true });
  t.same(await reveal(env.secret({ ref: 'pbs-token' })), { value: 'pbs-token-value', secret: true });
  t.same(await reveal(env.proxmoxApiToken!()), { value: 'root@pam!felhom=uuid', secret: true });
});

t.test('a missing ref is refused before any engine run, naming where it belongs', async (t) => {
  const layout = await boxState(t);
  await t.rejects(agentEnvironment({ password: { ref: 'nas-password' } }, { layout, env: {}, secrets: new SecretRegistry(), needsProxmoxToken: false }), {
    constructor: SecretError,
    message: new RegExp(`secret ref nas-password is not on this box: put it in ${join(layout.secrets, 'nas-password').replace(/[.]/g, '\\.')}`),
  });
});

t.test('a secret file readable by others is refused', async (t) => {
  const layout = await boxState(t);
  await writeFile(join(layout.secrets, 'pbs-token'), 'pbs-token-value', { mode: 0o644 });
  await chmod(join(layout.secrets, 'pbs-token'), 0o644);
  await t.rejects(agentEnvironment({ password: { ref: 'pbs-token' } }, { layout, env: {}, secrets: new SecretRegistry(), needsProxmoxToken: false }), { constructor: AgentSetupError });
});

t.test('an encrypted secret without the agent key, or for another key, fails without revealing anything', async (t) => {
  const agent = await testKey('agent');
  const other = await testKey('other');
  const ciphertext = await encryptSecret('never-shown-value', other.publicArmored);
  const noKey = await boxState(t);
  await t.rejects(agentEnvironment({ token: { encrypted: ciphertext } }, { layout: noKey, env: {}, secrets: new SecretRegistry(), needsProxmoxToken: false }), { constructor: AgentSetupError, message: /agent key .* cannot be read/ });
  const wrongKey = await boxState(t, agent.privateArmored);
  const error = await agentEnvironment({ token: { encrypted: ciphertext } }, { layout: wrongKey, env: { [AGENT_KEY_PASSPHRASE_ENV]: TEST_PASSPHRASE }, secrets: new SecretRegistry(), needsProxmoxToken: false }).then(
    () => undefined,
    (caught: unknown) => caught as Error,
  );
  t.type(error, SecretError, 'a typed secret error');
  t.notMatch(String(error?.message), /never-shown-value/);
});
