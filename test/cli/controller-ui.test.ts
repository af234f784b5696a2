// The customer's audit page from the command line: `controller ui-password` keeps the password's
// scrypt hash (from standard input, 0600), and `controller run --ui-listen` serves the page for as
// long as it runs, through its own local-API socket: a real HTTP client logs in, a wrong password
// is refused, the log is there. test/runner/controller/audit-page.test.ts shows the page in chromium.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../cli/main.js';
import { hostPort } from '../../cli/commands/controller-run.js';
import { verifyPassword } from '../../runner/controller/audit-page.js';
import { readUiPasswordHash, writeUiPasswordHash } from '../../runner/controller/ui-password.js';
import { felhom, felhomWithInput as withInput } from '../helpers/cli.js';
import { CO_BOX, controllerWorld, GUEST } from '../helpers/controller.js';

const PASSWORD = 'the customer password';
t.test('controller ui-password keeps the hash, 0600, and refuses a short password', async (t) => {
  const state = t.testdir();
  const set = await withInput(['controller', 'ui-password', '--state', state], `${PASSWORD}\nignored second line\n`);
  t.equal(set.code, 0, set.stderr);
  const file = join(state, 'keys', 'ui-password');
  t.equal((await stat(file)).mode & 0o777, 0o600);
  t.ok(await verifyPassword(PASSWORD, await readUiPasswordHash(file)), 'the first line is the password');
  t.notOk(set.stdout.includes(PASSWORD) || set.stderr.includes(PASSWORD), 'never printed');

  const other = t.testdir();
  const short = await withInput(['controller', 'ui-password', '--state', other], 'short\n');
  t.equal(short.code, 2);
  t.match(short.stderr, /felhom: EUI_PASSWORD: password: at least 8 characters/);
  await t.rejects(stat(join(other, 'keys', 'ui-password')), { code: 'ENOENT' }, 'nothing written');
});

t.test('the hash file: missing, open to others, or not a hash is refused naming the file and the command', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'ui-password');
  await t.rejects(readUiPasswordHash(file), { code: 'EUI_PASSWORD', message: /ui-password: no audit-page password: set it with `felhom controller ui-password/ });
  await writeFile(file, 'plain text password\n', { mode: 0o600 });
  await t.rejects(readUiPasswordHash(file), { message: /not a password hash this controller wrote/ });
  await writeUiPasswordHash(file, PASSWORD);
  await import('node:fs/promises').then((fs) => fs.chmod(file, 0o644));
  await t.rejects(readUiPasswordHash(file), { message: /readable by group or others/ });
  t.same(hostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  t.same(hostPort('[::1]:0'), { host: '::1', port: 0 });
  t.throws(() => hostPort('8080'), { code: 'EUSAGE', message: /--ui-listen: expected <host>:<port>/ });
});

t.test('controller run --ui-listen serves the page while it runs: login, wrong password, the log', async (t) => {
  const world = await controllerWorld(t);
  await writeUiPasswordHash(join(world.stateDir, 'keys', 'ui-password'), PASSWORD);
  // An operator action on this guest (CT 201) is the customer's to see; on a three-guest box, a host-wide one is not.
  await world.co.audit.append({ actor: 'D1A5C0FFEE0123456789ABCDEF0123456789ABCD', action: 'spec.apply', box: CO_BOX, tier: 'host', envelopeDigest: 'a'.repeat(64), outcome: 'succeeded', vmIds: [201] });
  const stop = new AbortController();
  let stderr = '';
  const running = main(
    ['controller', 'run', '--hub', world.hub.hub.url, '--box', CO_BOX, '--guest', GUEST, '--state', world.stateDir, '--trust', world.trustPath, '--local-api', world.co.server.socketPath(GUEST), '--log-format', 'json', '--wait', '1', '--ui-listen', '127.0.0.1:0'],
    { streams: { stdout: { write: () => true }, stderr: { write: (chunk: string) => (stderr += chunk) } }, env: { ...process.env }, cwd: process.cwd(), stopSignal: stop.signal },
  );
  let ended = false;
  void running.finally(() => (ended = true));
  const served = () => /"msg":"customer's audit page serving","url":"(http:\/\/[^"]+)"/.exec(stderr)?.[1];
  while (!served() && !ended) await new Promise((resolve) => setTimeout(resolve, 20));
  const url = served();
  t.ok(url, `the page's address is logged (${stderr.slice(-400)})`);

  const login = await fetch(url!);
  t.equal(login.status, 401);
  t.match(await login.text(), /Password/, 'behind a login');
  const wrong = await fetch(`${url}/login`, { method: 'POST', body: new URLSearchParams({ password: 'not the password' }), redirect: 'manual' });
  t.equal(wrong.status, 401, 'a wrong password is refused');
  const right = await fetch(`${url}/login`, { method: 'POST', body: new URLSearchParams({ password: PASSWORD }), redirect: 'manual' });
  t.equal(right.status, 303);
  const cookie = right.headers.get('set-cookie')!.split(';')[0]!;
  const log = await fetch(url!, { headers: { cookie } });
  t.equal(log.status, 200);
  const html = await log.text();
  t.match(html, /applied the signed host configuration/, "the box's log in plain words");
  t.notOk(stderr.includes(await readFile(join(world.stateDir, 'keys', 'ui-password'), 'utf8').then((text) => text.trim())), 'the hash is never logged');

  stop.abort();
  t.equal(await running, 0);
  await t.rejects(fetch(url!), 'the page stops with the controller');
});

t.test('controller run --ui-listen without a password hash stops before anything runs', async (t) => {
  const world = await controllerWorld(t);
  const result = await felhom(['controller', 'run', '--hub', world.hub.hub.url, '--box', CO_BOX, '--guest', GUEST, '--state', world.stateDir, '--trust', world.trustPath, '--local-api', world.co.server.socketPath(GUEST), '--ui-listen', '127.0.0.1:0']);
  t.equal(result.code, 1);
  t.match(result.stderr, /felhom: EUI_PASSWORD: .*keys\/ui-password: no audit-page password: set it with `felhom controller ui-password/);
  const bad = await felhom(['controller', 'run', '--hub', world.hub.hub.url, '--box', CO_BOX, '--guest', GUEST, '--state', world.stateDir, '--trust', world.trustPath, '--ui-listen', 'everywhere']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--ui-listen: expected <host>:<port>/);
});
