import t from 'tap';
import { looksLikeCredential, noPlaintextSecrets, plaintextCredentials } from '../../../policies/rules/no-plaintext-secrets.js';
import { homeBox } from '../../helpers/box-spec.js';
import { check, messages, modify, plan, resourcesOf } from '../../helpers/policies.js';

t.test('the home box passes every credential as a secret', async (t) => {
  const result = await plan(homeBox(), ['host', 'guest']);
  t.same(check(noPlaintextSecrets, result, 'host'), []);
  t.same(check(noPlaintextSecrets, result, 'guest'), []);
});

t.test('credential names are recognised and names about credentials are not', async (t) => {
  for (const name of ['password', 'apiToken', 'encryptionKey', 'TUNNEL_TOKEN', 'POSTGRES_PASSWORD', 'PAPERLESS_SECRET_KEY', 'tunnelSecret', 'passphrase']) t.ok(looksLikeCredential(name), name);
  for (const name of ['keyctl', 'keepLocally', 'tokenId', 'POSTGRES_PASSWORD_FILE', 'secretName', 'POSTGRES_USER', 'username', 'keep-daily']) t.notOk(looksLikeCredential(name), name);
});

t.test('a plaintext PBS password is refused, naming the input but never the value', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), 'proxmoxve:storage/pbs:Pbs', 'offsite-storage', (r) => {
    r.inputs.password = 'hunter2-plaintext';
    r.secretPaths = ['encryptionKey'];
  });
  const found = messages(check(noPlaintextSecrets, result, 'host', resources));
  t.same(found, [
    'proxmoxve:storage/pbs:Pbs "offsite-storage" input password (password) is a credential in plaintext: it would be stored in clear in state and logs; pass it as a Pulumi secret (a SecretRef in the spec, pulumi.secret(), or ${secret.<name>} in an app manifest)',
  ]);
  t.notMatch(found.join('\n'), /hunter2/);
});

t.test('a plaintext tunnel token in the cloudflared environment is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), 'command:local:Command', 'hb-0001-cloudflared-service', (r) => {
    r.inputs.environment.TUNNEL_TOKEN = 'eyJhIjoi';
    r.secretPaths = [];
  });
  t.same(messages(check(noPlaintextSecrets, result, 'host', resources)), [
    'command:local:Command "hb-0001-cloudflared-service" input environment.TUNNEL_TOKEN (TUNNEL_TOKEN) is a credential in plaintext: it would be stored in clear in state and logs; pass it as a Pulumi secret (a SecretRef in the spec, pulumi.secret(), or ${secret.<name>} in an app manifest)',
  ]);
});

t.test('an app password in a plain env entry is refused', async (t) => {
  const result = await plan(homeBox(), ['guest']);
  let index = -1;
  const resources = modify(resourcesOf(result, 'guest'), 'docker:index/container:Container', 'vault-vaultwarden', (r) => (index = r.inputs.envs.push('ADMIN_TOKEN=letmein') - 1));
  t.same(messages(check(noPlaintextSecrets, result, 'guest', resources)), [
    `docker:index/container:Container "vault-vaultwarden" input envs[${index}] (ADMIN_TOKEN) is a credential in plaintext: it would be stored in clear in state and logs; pass it as a Pulumi secret (a SecretRef in the spec, pulumi.secret(), or \${secret.<name>} in an app manifest)`,
  ]);
});

t.test('empty credentials, booleans and values under a secret parent are not reported', async (t) => {
  t.same(plaintextCredentials({ inputs: { password: '', token: true, auth: { apiKey: 'x' }, envs: ['DB_PASSWORD='] }, secretPaths: ['auth'] }), []);
});
