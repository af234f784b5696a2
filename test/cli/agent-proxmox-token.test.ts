// `felhom agent proxmox-token`: the root credential from a file or the environment (never argv),
// against the PVE simulator; what it prints, twice; the secrets in neither stream; bad input exits 2.
import t from 'tap';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { felhom } from '../helpers/cli.js';
import { startTestSimulator } from '../helpers/pve-sim.js';

t.test('mints from a root token file, prints what it made, and a second run has nothing to change', async (t) => {
  const { sim } = await startTestSimulator(t);
  const dir = t.testdir();
  const state = join(dir, 'state');
  await mkdir(state);
  await writeFile(join(dir, 'root-token'), `${sim.token}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'ca.pem'), sim.certificate);
  const args = ['agent', 'proxmox-token', '--state', state, '--endpoint', sim.url, '--root-token-file', join(dir, 'root-token'), '--ca', join(dir, 'ca.pem')];
  const first = await felhom(args);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /^token felhom-agent@pve!agent created; the agent reads it from .*secrets\/proxmox-api-token$/m);
  t.match(first.stdout, /^ {2}\/vms: FelhomAgentGuests = VM\.Allocate, VM\.Audit/m);
  t.match(first.stdout, /^ {2}\/ \(not propagated\): FelhomAgentCluster = Sys\.Audit, Sys\.Modify$/m);
  t.match(first.stderr, /felhom: proxmox token: role FelhomAgentGuests created/);
  const minted = (await readFile(join(state, 'secrets', 'proxmox-api-token'), 'utf8')).trim();
  for (const secret of [minted.split('=')[1]!, sim.token.split('=')[1]!]) {
    t.notMatch(first.stdout + first.stderr, secret, 'no secret on either stream');
  }

  const again = await felhom([...args, '--json']);
  t.equal(again.code, 0);
  const result = JSON.parse(again.stdout) as { token: string; changes: string[] };
  t.equal(result.token, 'kept');
  t.same(result.changes, []);
  t.equal(again.stderr, '', '--json prints no step lines');
  const human = await felhom(args);
  t.match(human.stdout, /^nothing to change: /m);
});

t.test('the root credential may come from $FELHOM_PROXMOX_ROOT_TOKEN, the endpoint from $FELHOM_PROXMOX_API', async (t) => {
  const { sim } = await startTestSimulator(t);
  const state = t.testdir();
  await writeFile(join(state, 'ca.pem'), sim.certificate);
  const run = await felhom(['agent', 'proxmox-token', '--state', state, '--json'], { env: { FELHOM_PROXMOX_ROOT_TOKEN: sim.token, FELHOM_PROXMOX_API: sim.url, FELHOM_PROXMOX_CA: join(state, 'ca.pem') } });
  t.equal(run.code, 0, run.stderr);
  t.equal((JSON.parse(run.stdout) as { token: string }).token, 'created');
});

t.test('no credential, one on the command line, a readable file, a bad endpoint or CA: exit 2 naming what', async (t) => {
  const dir = t.testdir({ 'open-token': 'root@pam!x=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n' });
  await chmod(join(dir, 'open-token'), 0o644);
  const env = { FELHOM_PROXMOX_ROOT_TOKEN: '', FELHOM_PROXMOX_API: '', FELHOM_PROXMOX_CA: '' };
  const none = await felhom(['agent', 'proxmox-token', '--state', dir], { env });
  t.equal(none.code, 2);
  t.match(none.stderr, /--root-token-file: no root credential: .*never on the command line/);
  const argv = await felhom(['agent', 'proxmox-token', '--state', dir, '--root-token', 'root@pam!x=secret'], { env });
  t.equal(argv.code, 2, 'there is no option to pass it on the command line');
  const open = await felhom(['agent', 'proxmox-token', '--state', dir, '--root-token-file', join(dir, 'open-token')], { env });
  t.equal(open.code, 2);
  t.match(open.stderr, /--root-token-file: .*readable by group or others/);
  t.notMatch(open.stderr, 'aaaaaaaa', 'never the secret');
  const missing = await felhom(['agent', 'proxmox-token', '--state', dir, '--root-token-file', join(dir, 'nope')], { env });
  t.match(missing.stderr, /--root-token-file: .*nope does not exist/);
  const endpoint = await felhom(['agent', 'proxmox-token', '--state', dir, '--endpoint', 'ftp://pve'], { env: { ...env, FELHOM_PROXMOX_ROOT_TOKEN: 'root@pam!x=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' } });
  t.equal(endpoint.code, 2);
  t.match(endpoint.stderr, /endpoint: expected https/);
  const ca = await felhom(['agent', 'proxmox-token', '--state', dir, '--ca', join(dir, 'no-ca.pem')], { env: { ...env, FELHOM_PROXMOX_ROOT_TOKEN: 'root@pam!x=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' } });
  t.equal(ca.code, 2);
  t.match(ca.stderr, /--ca: cannot read .*no-ca\.pem: ENOENT/);
});
