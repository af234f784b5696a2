/**
 * The local constrained API, the company case: three guests on one host (the PVE API simulator),
 * each with its own socket and token. A guest's token opens its own socket only, a body naming
 * another guest is refused, a replayed request or a forged or rotated token is refused, growth past
 * the signed spec's ceiling is refused, and every call is in the audit log.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { verifyAuditLog, type AuditEntry } from '../../../runner/state/audit.js';
import { LOCAL_API_VERBS } from '../../../runner/local-api/server.js';
import { company, configOf, snapshotsOf } from '../../helpers/local-api.js';


t.test("a guest snapshots, rolls back and deletes through its own socket; the host's state shows it, the audit log records it", async (t) => {
  const co = await company(t);
  const a = co.client('tenant-a');
  t.same(await a.call('snapshot', { name: 'pre-deploy-1' }), { snapshot: 'pre-deploy-1' });
  t.same(await snapshotsOf(co.sim, 201), ['pre-deploy-1']);
  t.same(await snapshotsOf(co.sim, 202), [], "guest B's container is untouched");
  t.same(await a.call('rollback', { name: 'pre-deploy-1' }), { rolledBackTo: 'pre-deploy-1' });
  const status = await a.call<{ guest: string; vmId: number; status: string; snapshots: { name: string }[]; limits: unknown }>('status');
  t.match(status, { guest: 'tenant-a', vmId: 201, status: 'running', memoryMiB: 1024, diskGiB: 8, limits: { maxMemoryMiB: 2048, maxDiskGiB: 16, backupStorage: 'nas-backup' } });
  t.same(status.snapshots.map((s) => s.name), ['pre-deploy-1']);
  t.same(await a.call('delete-snapshot', { name: 'pre-deploy-1' }), { deleted: 'pre-deploy-1' });
  t.same(await snapshotsOf(co.sim, 201), []);
  await t.rejects(a.call('rollback', { name: 'pre-deploy-1' }), { status: 400, code: 'ELOCAL_NO_SNAPSHOT' });
  await t.rejects(a.call('snapshot', { name: '1-bad name' }), { status: 400, code: 'ELOCAL_BAD_REQUEST', message: /snapshot name/ });
  const entries = (await co.entries()).map((e) => `${e.actor} ${e.action} ${e.outcome}${e.reason ? ` ${e.reason.message}` : ''}`);
  t.same(entries, [
    'guest:tenant-a local-api.snapshot accepted snapshot pre-deploy-1 of guest tenant-a (CT 201)',
    'guest:tenant-a local-api.snapshot succeeded snapshot pre-deploy-1 of guest tenant-a (CT 201)',
    'guest:tenant-a local-api.rollback accepted roll guest tenant-a (CT 201) back to snapshot pre-deploy-1',
    'guest:tenant-a local-api.rollback succeeded roll guest tenant-a (CT 201) back to snapshot pre-deploy-1',
    'guest:tenant-a local-api.status succeeded status of guest tenant-a read',
    'guest:tenant-a local-api.delete-snapshot accepted delete snapshot pre-deploy-1 of guest tenant-a (CT 201)',
    'guest:tenant-a local-api.delete-snapshot succeeded delete snapshot pre-deploy-1 of guest tenant-a (CT 201)',
    'guest:tenant-a local-api.rollback rejected guest tenant-a has no snapshot pre-deploy-1',
    'guest:tenant-a local-api.snapshot rejected snapshot name "1-bad name": expected a letter then letters, digits, _ or - (2 to 40 characters)',
  ]);
  t.ok((await verifyAuditLog(co.audit.file)).ok, 'the chain verifies');
});

t.test("guest A cannot snapshot, resize or read guest B", async (t) => {
  const co = await company(t);
  await co.client('tenant-b').call('snapshot', { name: 'b-own' });
  // A's token on B's socket (a socket B's directory holds; A should not reach it, but if it did).
  const aOnB = co.client('tenant-b', co.token['tenant-a']);
  for (const [verb, args] of [['snapshot', { name: 'evil' }], ['grow-memory', { memoryMiB: 2048 }], ['grow-disk', { diskGiB: 16 }], ['status', {}], ['audit', {}], ['delete-snapshot', { name: 'b-own' }]] as const) {
    await t.rejects(aOnB.call(verb, args), { status: 401, code: 'ELOCAL_AUTH' }, `${verb} with A's token on B's socket`);
  }
  // A's own socket, asking about B.
  const a = co.client('tenant-a');
  for (const verb of ['snapshot', 'status', 'audit', 'grow-memory'] as const) {
    await t.rejects(a.call(verb, { guest: 'tenant-b', name: 'x-snap', memoryMiB: 2048 }), { status: 403, code: 'ELOCAL_FORBIDDEN', message: /serves guest tenant-a only/ }, `${verb} naming guest B`);
  }
  t.same(await snapshotsOf(co.sim, 202), ['b-own'], "B's snapshot is still there, nothing added");
  t.equal(Number((await configOf(co.sim, 202)).memory), 1024, "B's memory is unchanged");
  const seen = await a.call<{ entries: AuditEntry[] }>('audit');
  t.ok(seen.entries.length > 0);
  t.ok(seen.entries.every((entry) => entry.actor === 'guest:tenant-a'), "A's audit view holds its own calls only");
  const bSees = await co.client('tenant-b').call<{ entries: AuditEntry[]; ok: boolean }>('audit');
  t.ok(bSees.ok);
  t.ok(bSees.entries.every((entry) => entry.actor === 'guest:tenant-b'));
  t.ok(bSees.entries.some((entry) => entry.action === 'local-api.snapshot'), 'B sees its own snapshot');
});

t.test('a replayed request, a forged token and a rotated token are refused', async (t) => {
  const co = await company(t);
  const a = co.client('tenant-a');
  const requestId = randomBytes(16).toString('hex');
  await a.call('snapshot', { name: 'once' }, { requestId });
  await t.rejects(a.call('snapshot', { name: 'once' }, { requestId }), { status: 409, code: 'ELOCAL_REPLAY' });
  await t.rejects(a.call('status', {}, { requestId: 'short' }), { status: 400, code: 'ELOCAL_BAD_REQUEST', message: /felhom-request-id/ });
  await t.rejects(a.call('status', {}, { token: `fhl_${randomBytes(32).toString('base64url')}` }), { status: 401, code: 'ELOCAL_AUTH' }, 'a forged token');
  await t.rejects(a.call('status', {}, { token: '' }), { status: 401, code: 'ELOCAL_AUTH' }, 'no token');
  const old = co.token['tenant-a']!;
  const fresh = await co.tokens.issue('tenant-a');
  await t.rejects(a.call('status', {}, { token: old }), { status: 401, code: 'ELOCAL_AUTH' }, 'the token before rotation');
  t.match(await a.call('status', {}, { token: fresh }), { guest: 'tenant-a' });
  t.same(await snapshotsOf(co.sim, 201), ['once'], 'the replay made no second snapshot');
  const refused = (await co.entries()).filter((e) => e.outcome === 'rejected').map((e) => e.reason!.code);
  t.same(refused, ['ELOCAL_REPLAY', 'ELOCAL_BAD_REQUEST', 'ELOCAL_AUTH', 'ELOCAL_AUTH', 'ELOCAL_AUTH']);
});

t.test('memory and disk grow within the signed ceiling only; the local API never shrinks', async (t) => {
  const co = await company(t);
  const a = co.client('tenant-a');
  await t.rejects(a.call('grow-memory', { memoryMiB: 4096 }), { status: 400, code: 'ELOCAL_OVER_LIMIT', message: /4096 is over the 2048 MiB the signed spec allows/ });
  await t.rejects(a.call('grow-disk', { diskGiB: 17 }), { status: 400, code: 'ELOCAL_OVER_LIMIT' });
  t.equal(Number((await configOf(co.sim, 201)).memory), 1024, 'nothing changed');
  t.same(await a.call('grow-memory', { memoryMiB: 2048 }), { memoryMiB: 2048 });
  t.equal(Number((await configOf(co.sim, 201)).memory), 2048);
  t.same(await a.call('grow-disk', { diskGiB: 12 }), { diskGiB: 12 });
  t.match((await configOf(co.sim, 201)).rootfs, /size=12G/);
  await t.rejects(a.call('grow-disk', { diskGiB: 10 }), { status: 400, code: 'ELOCAL_NOT_GROWING' });
  await t.rejects(a.call('grow-memory', { memoryMiB: 2048 }), { status: 400, code: 'ELOCAL_NOT_GROWING' });
  await t.rejects(a.call('grow-memory', { memoryMiB: 'lots' }), { status: 400, code: 'ELOCAL_BAD_REQUEST', message: /^memoryMiB: expected a positive integer/ });
  const over = (await co.entries()).filter((e) => e.reason?.code === 'ELOCAL_OVER_LIMIT');
  t.equal(over.length, 2, 'each refusal over the limit is audited');
});

t.test('backup now, the snapshot limit, a host failure, unknown verbs and methods', async (t) => {
  const co = await company(t, { maxSnapshots: 2 });
  const a = co.client('tenant-a');
  t.same(await a.call('backup-now'), { storage: 'nas-backup' });
  const backups = await co.sim.api.get<{ vmid?: number }[]>('/nodes/pve/storage/nas-backup/content', { content: 'backup' });
  t.same(backups.map((b) => b.vmid), [201], "one backup, of guest A's container");
  await t.rejects(co.client('tenant-c').call('backup-now'), { status: 400, code: 'ELOCAL_NO_BACKUP' }, 'no backup job covers guest C');
  await a.call('snapshot', { name: 'one' });
  await t.rejects(a.call('snapshot', { name: 'one' }), { code: 'ELOCAL_EXISTS' });
  await a.call('snapshot', { name: 'two' });
  await t.rejects(a.call('snapshot', { name: 'three' }), { status: 400, code: 'ELOCAL_LIMIT' });
  await co.sim.control('POST', '/_sim/faults', { tasks: [{ type: 'vzdelsnapshot', message: 'snapshot is busy', count: 1 }] });
  await t.rejects(a.call('delete-snapshot', { name: 'one' }), { status: 502, message: /snapshot is busy/ });
  t.match((await co.entries()).at(-1), { outcome: 'failed', action: 'local-api.delete-snapshot' });
  await t.rejects(a.call('shell', { command: 'rm -rf /' }), { status: 404, code: 'ELOCAL_VERB', message: new RegExp(LOCAL_API_VERBS.join(', ')) });
  await t.rejects(a.call('Status'), { status: 404, code: 'ELOCAL_VERB' });
  const get = await new Promise<number>((resolve, reject) => {
    import('node:http').then(({ request }) => {
      const req = request({ socketPath: co.server.socketPath('tenant-a'), method: 'GET', path: '/v1/status', headers: { authorization: `Bearer ${co.token['tenant-a']}`, 'felhom-request-id': randomBytes(16).toString('hex') } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    }, reject);
  });
  t.equal(get, 405);
  const raw = await new Promise<number>((resolve, reject) => {
    import('node:http').then(({ request }) => {
      const req = request({ socketPath: co.server.socketPath('tenant-a'), method: 'POST', path: '/v1/status', headers: { authorization: `Bearer ${co.token['tenant-a']}`, 'felhom-request-id': randomBytes(16).toString('hex') } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('[1]');
    }, reject);
  });
  t.equal(raw, 400, 'a body that is not an object');
  const refusedVerbs = (await co.entries()).filter((e) => e.reason?.code === 'ELOCAL_VERB').map((e) => e.action);
  t.same(refusedVerbs, ['local-api.shell', 'local-api.(none)'], 'unknown verbs are audited too');
});

t.test('calls are rate-limited per guest; past the limit one refusal per window is audited', async (t) => {
  const co = await company(t, { rateLimit: { calls: 3, windowMs: 60_000 } });
  const a = co.client('tenant-a');
  for (let call = 0; call < 3; call++) await a.call('status');
  for (let call = 0; call < 3; call++) await t.rejects(a.call('status'), { status: 429, code: 'ELOCAL_RATE' });
  t.match(await co.client('tenant-b').call('status'), { guest: 'tenant-b' }, "guest B's own budget is untouched");
  // Refused before authentication: a forged token spends the guest's budget, not more audit lines.
  await t.rejects(co.client('tenant-a', 'fhl_forged').call('status'), { status: 429 });
  const rate = (await co.entries()).filter((e) => e.reason?.code === 'ELOCAL_RATE');
  t.equal(rate.length, 1);
  co.now.ms += 60_000;
  t.match(await a.call('status'), { guest: 'tenant-a' }, 'the next window admits calls again');
});

t.test('a one-guest box: the customer reads every operator and agent entry too; a guest the spec does not grant is refused', async (t) => {
  const co = await company(t, { grants: [{ guest: 'tenant-a', vmId: 201, maxMemoryMiB: 2048, maxDiskGiB: 16 }] });
  await co.audit.append({ actor: 'ABCDEF', action: 'spec.apply', box: 'co-0001', tier: 'host', envelopeDigest: 'a'.repeat(64), outcome: 'succeeded' });
  const seen = await co.client('tenant-a').call<{ entries: AuditEntry[] }>('audit', { sinceSeq: 0 });
  t.same(seen.entries.map((e) => e.action), ['spec.apply']);
  const later = await co.client('tenant-a').call<{ entries: AuditEntry[] }>('audit', { sinceSeq: 1 });
  t.same(later.entries.map((e) => e.action), ['local-api.audit'], 'sinceSeq skips what was read');
  await t.rejects(co.client('tenant-a').call('audit', { sinceSeq: -1 }), { status: 400 });
  const path = await co.server.serve('tenant-b');
  t.equal(path, co.server.socketPath('tenant-b'));
  await t.rejects(co.client('tenant-b').call('status'), { status: 403, code: 'ELOCAL_FORBIDDEN', message: /grants guest tenant-b nothing/ });
  await t.rejects(co.server.serve('Bad Name'), { code: 'ELOCAL_BAD_REQUEST' });
});
