// The attacks an outside review ran against the reference hub (issue 14), one test each, on a
// real hub on 127.0.0.1: what one box key can make the hub store, box ids that name
// Object.prototype's properties, and a report sent twice after a kill.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AUDIT_ENTRIES_KEPT_PER_BOX, HUB_DATA_FILE } from '../../hub/database.js';
import { AuditLog, type AuditEntry, type AuditRecord } from '../../runner/state/audit.js';
import { makeEnvelope, startTestHub } from '../helpers/hub.js';

const record = (box: string, overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  actor: 'agent',
  action: 'spec.apply',
  box,
  tier: 'host',
  envelopeDigest: null,
  outcome: 'succeeded',
  ...overrides,
});

async function auditEntries(t: Test, box: string, count: number, overrides: Partial<AuditRecord> = {}): Promise<AuditEntry[]> {
  const log = await AuditLog.open(join(t.testdir(), 'audit.jsonl'));
  const entries: AuditEntry[] = [];
  for (let index = 0; index < count; index += 1) entries.push(await log.append(record(box, overrides)));
  return entries;
}

t.test('one box key cannot grow the hub with megabyte audit entries: an oversized field is refused naming it', async (t) => {
  const { enroll, hub } = await startTestHub(t);
  const box = await enroll('box-1');
  // given entries whose hashes are right but whose fields are huge (the review sent 1.9 MB uploads)
  const [huge] = await auditEntries(t, 'box-1', 1, { actor: 'x'.repeat(200_000) });
  await t.rejects(box.postAudit('box-1', [huge!]), { code: 'EBAD_REQUEST', message: /entries\[0\]\.actor: expected a string of at most 512 characters/ });
  const [longReason] = await auditEntries(t, 'box-1', 1, { outcome: 'rejected', reason: { code: 'ETAMPERED', message: 'y'.repeat(5000) } });
  await t.rejects(box.postAudit('box-1', [longReason!]), { code: 'EBAD_REQUEST', message: /entries\[0\]\.reason/ });
  const [extra] = await auditEntries(t, 'box-1', 1);
  await t.rejects(box.postAudit('box-1', [{ ...extra!, padding: 'z'.repeat(1000) } as never]), { code: 'EBAD_REQUEST', message: /entries\[0\]\.padding: not a field of an audit entry/ });
  t.same(hub.database.auditEntries('box-1'), [], 'nothing was stored');
});

t.test('one box key cannot grow the hub without limit: the hub keeps the newest audit entries per box and goes on accepting the chain', async (t) => {
  const { enroll, hub, dataDir } = await startTestHub(t);
  const box = await enroll('box-1');
  const entries = await auditEntries(t, 'box-1', AUDIT_ENTRIES_KEPT_PER_BOX + 300);
  for (let start = 0; start < entries.length; start += 500) await box.postAudit('box-1', entries.slice(start, start + 500));
  const held = hub.database.auditEntries('box-1');
  t.equal(held.length, AUDIT_ENTRIES_KEPT_PER_BOX, 'at most the kept number');
  t.equal(held[0]!.seq, 301, 'the oldest were dropped');
  t.equal(held.at(-1)!.seq, entries.length);
  // a retried upload of entries the hub dropped and still holds is accepted, and the chain goes on
  t.same(await box.postAudit('box-1', entries.slice(0, 400)), { accepted: 0, head: { seq: entries.length, hash: entries.at(-1)!.hash } });
  const size = (await stat(join(dataDir, HUB_DATA_FILE))).size;
  t.ok(size < AUDIT_ENTRIES_KEPT_PER_BOX * 1024, `the data file stays bounded (${size} bytes)`);
  await t.rejects(box.postAudit('box-1', entries.slice(0, 1001)), { code: 'EAUDIT_TOO_MANY' }, 'one upload carries at most 1000 entries');
});

t.test('a box id named after an Object.prototype property (constructor) works like any other on the audit and report routes', async (t) => {
  const { enroll, operator, hub } = await startTestHub(t);
  const box = await enroll('constructor');
  // before: HTTP 500 "held.push is not a function"
  t.same(await operator.listAudit('constructor'), [], 'an empty audit log, not Object');
  const entries = await auditEntries(t, 'constructor', 2);
  t.same(await box.postAudit('constructor', entries), { accepted: 2, head: { seq: 2, hash: entries[1]!.hash } });
  t.same((await operator.listAudit('constructor')).map((entry) => entry.seq), [1, 2]);
  t.same(await box.fetchSpec('constructor', 'host'), { status: 'none' });
  t.match(await box.fetchJobs('constructor', 'host'), { status: 'changed', jobs: [] });
  await operator.publish(makeEnvelope({ box: 'constructor', type: 'job', serial: 1 }));
  t.match(await box.fetchJobs('constructor', 'host'), { status: 'changed', jobs: [{ serial: 1 }] });
  t.equal(hub.database.auditEntries('tostring').length, 0);
  await t.rejects(operator.listAudit('hasownproperty'), { code: 'EBOX_UNKNOWN' }, 'an unknown box is unknown, whatever its name');
});

t.test('a report sent twice after a kill -9 is stored once: the hub deduplicates by (box, job, outcome)', async (t) => {
  const { enroll, operator } = await startTestHub(t);
  const box = await enroll('box-1');
  const report = { jobId: 'a'.repeat(64), tier: 'host' as const, outcome: 'succeeded' as const, serial: 3 };
  const first = await box.postReport('box-1', report);
  // the box did not see the answer (killed), so its outbox sends the same report again
  const second = await box.postReport('box-1', report);
  t.equal(second.id, first.id, 'the same report answers');
  t.equal((await operator.listReports({ box: 'box-1' })).length, 1, 'stored once');
  // another outcome for the same job (failed, then succeeded after a box-side fix) is its own report
  await box.postReport('box-1', { ...report, outcome: 'failed', reason: { code: 'ESECRET', message: 'secret ref tunnel-token is not on this box' } });
  t.same((await operator.listReports({ box: 'box-1' })).map((r) => r.outcome).sort(), ['failed', 'succeeded']);
});
