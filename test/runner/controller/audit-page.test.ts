/**
 * The customer's audit page in a real browser (headless Debian chromium): it renders the box's
 * log in plain words after a login, refuses a wrong password, shows a tampered log as tampered,
 * and says whether the log agrees with the hub's copy.
 */
import { readFile, writeFile } from 'node:fs/promises';
import t from 'tap';
import { hashPassword, startAuditPage, verifyPassword } from '../../../runner/controller/audit-page.js';
import { LocalApiServer } from '../../../runner/local-api/server.js';
import { startChromium } from '../../helpers/chromium.js';
import { company } from '../../helpers/local-api.js';

const PASSWORD = 'a customer password';

t.test('the audit page: login, plain words, tampering and the hub copy, in chromium', async (t) => {
  let hubHead: { seq: number; hash: string } | null = null;
  const co = await company(t, { grants: [{ guest: 'tenant-a', vmId: 201, maxMemoryMiB: 2048, maxDiskGiB: 16 }], hubHead: () => hubHead });
  const operator = 'D1A5C0FFEE0123456789ABCDEF0123456789ABCD';
  await co.audit.append({ actor: operator, action: 'spec.apply', box: 'co-0001', tier: 'host', envelopeDigest: 'a'.repeat(64), outcome: 'succeeded' });
  await co.audit.append({ actor: operator, action: 'job.restore', box: 'co-0001', tier: 'host', envelopeDigest: 'b'.repeat(64), outcome: 'failed', reason: { code: 'ERESTORE_SOURCE', message: 'no backup of guest 201 on nas-backup' } });
  await co.client('tenant-a').call('snapshot', { name: 'pre-deploy-3' });
  const site = await startAuditPage({ localApi: co.client('tenant-a'), passwordHash: await hashPassword(PASSWORD) });
  t.teardown(() => site.close());
  const browser = await startChromium(t);
  const page = await browser.newPage();

  await page.goto(site.url);
  t.match(await page.text(), /Password/, 'the log is behind a login');
  t.notMatch(await page.text(), /applied/);
  await page.evaluate(`document.getElementById('password').value = 'wrong password'; document.getElementById('sign-in').click()`, { navigates: true });
  t.match(await page.text(), /Wrong password\./, 'a wrong password is refused');
  t.notMatch(await page.text(), /applied the signed/);

  await page.evaluate(`document.getElementById('password').value = ${JSON.stringify(PASSWORD)}; document.getElementById('sign-in').click()`, { navigates: true });
  const text = await page.text();
  t.match(text, /The log's hash chain verifies/);
  t.match(text, /The hub has no copy of this log yet/);
  t.match(text, /operator key …EF0123456789ABCD\s+applied the signed host configuration\s+done/);
  t.match(text, /operator key …EF0123456789ABCD\s+ran the signed restore job on the host tier\s+failed — no backup of guest 201 on nas-backup/);
  t.match(text, /your controller \(tenant-a\)\s+snapshot pre-deploy-3 of guest tenant-a \(CT 201\)\s+done/);
  const rows = await page.evaluate<number>(`document.querySelectorAll('#entries tbody tr').length`);
  t.ok(rows >= 4, 'every entry is a row');

  // The hub's copy: the same hash at entry 2 agrees; another one differs.
  const entries = (await co.entries());
  hubHead = { seq: 2, hash: entries[1]!.hash };
  await page.goto(site.url);
  t.match(await page.text(), /It agrees with the hub's copy up to entry 2\./);
  hubHead = { seq: 2, hash: 'f'.repeat(64) };
  await page.goto(site.url);
  t.match(await page.text(), /TAMPERED: entry 2 DIFFERS from the hub's copy/);
  hubHead = null;

  // Someone edits the box's log: the outcome of the failed restore now reads succeeded.
  const lines = (await readFile(co.audit.file, 'utf8')).split('\n');
  lines[1] = lines[1]!.replace('"outcome":"failed"', '"outcome":"succeeded"');
  await writeFile(co.audit.file, lines.join('\n'));
  await page.goto(site.url);
  t.match(await page.text(), /TAMPERED: the log's hash chain is broken/);
  t.equal(await page.evaluate<string>(`document.getElementById('chain').className`), 'tampered');
});

t.test('passwords are scrypt hashes checked in constant time; logins are limited', async (t) => {
  const stored = await hashPassword(PASSWORD);
  t.match(stored, /^scrypt\$16384\$8\$1\$/);
  t.ok(await verifyPassword(PASSWORD, stored));
  t.notOk(await verifyPassword('another password', stored));
  t.notOk(await verifyPassword(PASSWORD, 'bcrypt$whatever'));
  await t.rejects(hashPassword('short'), /at least 8/);
  const co = await company(t, { grants: [{ guest: 'tenant-a', vmId: 201, maxMemoryMiB: 2048, maxDiskGiB: 16 }] });
  const site = await startAuditPage({ localApi: co.client('tenant-a'), passwordHash: stored });
  t.teardown(() => site.close());
  const login = (password: string) => fetch(`${site.url}/login`, { method: 'POST', body: new URLSearchParams({ password }), redirect: 'manual' });
  for (let attempt = 0; attempt < 5; attempt++) t.equal((await login('wrong one')).status, 401);
  t.equal((await login(PASSWORD)).status, 429, 'after 5 wrong passwords even the right one waits');
  t.equal((await fetch(`${site.url}/`)).status, 401, 'no session, no log');
  t.equal((await fetch(`${site.url}/other`)).status, 404);
  const down = await startAuditPage({ localApi: co.client('tenant-a'), passwordHash: stored });
  t.teardown(() => down.close());
  const cookie = (await fetch(`${down.url}/login`, { method: 'POST', body: new URLSearchParams({ password: PASSWORD }), redirect: 'manual' })).headers.get('set-cookie')!.split(';')[0]!;
  await co.server.close();
  const unavailable = await fetch(`${down.url}/`, { headers: { cookie } });
  t.equal(unavailable.status, 502);
  t.match(await unavailable.text(), /The box agent did not answer/);
  t.ok(LocalApiServer);
});
