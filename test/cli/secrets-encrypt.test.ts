import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { decryptSecret } from '../../runner/envelope/index.js';
import { felhom, felhomWithInput } from '../helpers/cli.js';
import { testKey, writeKeyFiles } from '../helpers/keys.js';

t.test('secrets encrypt --from-env prints a message only the agent key decrypts', async (t) => {
  const agent = await testKey('agent');
  const dir = await writeKeyFiles(['agent']);
  const result = await felhom(['secrets', 'encrypt', '--to', 'agent.pub.asc', '--from-env', 'NAS_PASSWORD'], { cwd: dir, env: { NAS_PASSWORD: 's3cret nas' } });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /^-----BEGIN PGP MESSAGE-----\n[\s\S]+-----END PGP MESSAGE-----\n$/);
  t.notMatch(result.stdout, /s3cret/);
  t.equal(await decryptSecret(result.stdout, agent.privateKey), 's3cret nas');
});

t.test('secrets encrypt --json prints the spec SecretRef', async (t) => {
  const agent = await testKey('agent');
  const dir = await writeKeyFiles(['agent']);
  const result = await felhom(['secrets', 'encrypt', '--to', 'agent.pub.asc', '--from-env', 'TOKEN', '--json'], { cwd: dir, env: { TOKEN: 'tunnel-token' } });
  const ref = JSON.parse(result.stdout) as { encrypted: string };
  t.same(Object.keys(ref), ['encrypted']);
  t.equal(await decryptSecret(ref.encrypted, agent.privateKey), 'tunnel-token');
});

t.test('secrets encrypt refuses an unset variable and a private key as recipient', async (t) => {
  const dir = await writeKeyFiles(['agent']);
  const unset = await felhom(['secrets', 'encrypt', '--to', 'agent.pub.asc', '--from-env', 'FELHOM_TEST_UNSET_VARIABLE'], { cwd: dir });
  t.equal(unset.code, 2);
  t.match(unset.stderr, /EUSAGE: --from-env: the variable FELHOM_TEST_UNSET_VARIABLE is not set/);
  const privateKey = await felhom(['secrets', 'encrypt', '--to', 'agent.key.asc', '--from-env', 'HOME'], { cwd: dir });
  t.equal(privateKey.code, 1);
  t.match(privateKey.stderr, /EKEY/);
});

const root = fileURLToPath(new URL('../../', import.meta.url));
const built = existsSync(`${root}dist/cli/commands/secrets-encrypt.js`);

const spawnFelhom = (args: string[], input: string, env: NodeJS.ProcessEnv = {}) => felhomWithInput(args, input, { FELHOM_KEY_PASSPHRASE: '', ...env });

t.test('the built command reads a secret from standard input and refuses a passphrase prompt without a terminal', { skip: built ? false : 'dist/ is not built (npm run build)' }, async (t) => {
  const agent = await testKey('agent');
  const dir = await writeKeyFiles(['agent']);
  const encrypted = await spawnFelhom(['secrets', 'encrypt', '--to', `${dir}/agent.pub.asc`], 'from-stdin\n');
  t.equal(encrypted.code, 0, encrypted.stderr);
  t.equal(await decryptSecret(encrypted.stdout, agent.privateKey), 'from-stdin', 'the trailing newline is not part of the secret');

  const noPassphrase = await spawnFelhom(['keys', 'generate', '--name', 'x', '--email', 'x@operators.example', '--out-dir', dir], '');
  t.equal(noPassphrase.code, 2);
  t.match(noPassphrase.stderr, /felhom: EUSAGE: .*FELHOM_KEY_PASSPHRASE/);
});
