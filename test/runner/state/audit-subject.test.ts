// The per-guest subject of an audit entry (`vmIds`): covered by the hash when present, absent in
// entries written before it existed (which verify as they did), accepted by the hub's upload
// check, and what lets each tenant of a multi-guest box see the operator actions on its own guest.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { auditBase } from '../../../runner/agent/outbox.js';
import { AuditLog, auditEntryHash, GENESIS_HASH, verifyAuditLog, type AuditEntry } from '../../../runner/state/audit.js';
import { startTestHub } from '../../helpers/hub.js';
import { company } from '../../helpers/local-api.js';
import { tempDir } from '../../helpers/enrollment.js';

/** An entry exactly as an agent wrote it before the field existed, with the hash it carried then. */
const OLD_ENTRY = { seq: 1, time: '2026-06-01T00:00:01.000Z', actor: 'agent', action: 'spec.apply', box: 'box-1', tier: 'host', envelopeDigest: null, outcome: 'succeeded', prevHash: GENESIS_HASH } as const;
const OLD_HASH = auditEntryHash(OLD_ENTRY);

t.test('an entry without the subject hashes and verifies as before; one with it is covered by the hash', async (t) => {
  t.equal(OLD_HASH, '25af257cf28a48abd1bb7d339d4b474f02379ee814db928c6036e2c9cc9a39ce', 'the canonical form of an entry without vmIds is unchanged');
  const file = join(tempDir(t), 'audit.jsonl');
  await writeFile(file, `${JSON.stringify({ ...OLD_ENTRY, hash: OLD_HASH })}\n`);
  // when the new code appends onto the old log
  const log = await AuditLog.open(file);
  const entry = await log.append({ actor: 'ABCD', action: 'job.snapshot', box: 'box-1', tier: 'host', envelopeDigest: 'a'.repeat(64), outcome: 'succeeded', vmIds: [202, 201, 202] });
  t.same(entry.vmIds, [201, 202], 'sorted, each once');
  const none = await log.append({ actor: 'agent', action: 'drift.check', box: 'box-1', tier: 'host', envelopeDigest: null, outcome: 'succeeded', vmIds: [] });
  t.notOk('vmIds' in none, 'an empty subject is no subject');
  const verified = await verifyAuditLog(file);
  t.ok(verified.ok, 'old and new entries verify in one chain');
  t.same(verified.entries.map((e) => e.vmIds ?? null), [null, [201, 202], null]);
  // when someone moves an entry to another tenant
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  lines[1] = lines[1]!.replace('"vmIds":[201,202]', '"vmIds":[203]');
  await writeFile(file, `${lines.join('\n')}\n`);
  t.match((await verifyAuditLog(file)).problems, [{ kind: 'edited', seq: 2 }], 'a changed subject is an edited entry');
});

t.test("a job about one guest names it in the entry", async (t) => {
  const ctx = { box: 'box-1', tier: 'host' } as never;
  const entry = { id: 'b'.repeat(64), type: 'job', action: 'snapshot' } as never;
  t.match(auditBase(ctx, entry, { header: { type: 'job' }, body: { vmId: 201, name: 'x' }, signers: ['ABCD'] } as never), { action: 'job.snapshot', vmIds: [201] });
  t.notOk('vmIds' in auditBase(ctx, entry, { header: { type: 'job' }, body: { name: 'x' }, signers: ['ABCD'] } as never), 'no guest named: none recorded');
  t.notOk('vmIds' in auditBase(ctx, entry, null), 'an unverified envelope names nothing');
});

t.test('the hub accepts entries with a subject and refuses a malformed one naming the field', async (t) => {
  const { enroll, hub } = await startTestHub(t);
  const box = await enroll('box-1');
  const log = await AuditLog.open(join(tempDir(t), 'audit.jsonl'));
  const entries: AuditEntry[] = [
    await log.append({ actor: 'agent', action: 'spec.apply', box: 'box-1', tier: 'host', envelopeDigest: null, outcome: 'succeeded' }),
    await log.append({ actor: 'ABCD', action: 'job.snapshot', box: 'box-1', tier: 'host', envelopeDigest: 'c'.repeat(64), outcome: 'succeeded', vmIds: [201] }),
  ];
  for (const vmIds of [[], [99], ['201'], Array.from({ length: 65 }, (_, i) => 200 + i)]) {
    const bad = { ...entries[0]!, vmIds } as never;
    await t.rejects(box.postAudit('box-1', [bad]), { code: 'EBAD_REQUEST', message: /entries\[0\]\.vmIds: expected 1 to 64 guest ids/ }, JSON.stringify(vmIds).slice(0, 30));
  }
  await box.postAudit('box-1', entries);
  t.same(hub.database.auditEntries('box-1').map((e) => e.vmIds ?? null), [null, [201]], 'stored as sent');
});

t.test('on a multi-guest box each tenant sees the operator actions on its own guest', async (t) => {
  const co = await company(t);
  await co.audit.append({ actor: 'ABCDEF', action: 'job.snapshot', box: 'co-0001', tier: 'host', envelopeDigest: 'a'.repeat(64), outcome: 'succeeded', vmIds: [201] });
  await co.audit.append({ actor: 'ABCDEF', action: 'spec.apply', box: 'co-0001', tier: 'host', envelopeDigest: 'b'.repeat(64), outcome: 'succeeded' });
  await co.audit.append({ actor: 'agent', action: 'job.rollback', box: 'co-0001', tier: 'host', envelopeDigest: 'c'.repeat(64), outcome: 'failed', vmIds: [201, 202] });
  const actions = async (guest: string) => (await co.client(guest).call<{ entries: AuditEntry[] }>('audit')).entries.map((e) => e.action);
  t.same(await actions('tenant-a'), ['job.snapshot', 'job.rollback'], "tenant-a: the actions naming its guest");
  t.same(await actions('tenant-b'), ['job.rollback'], 'tenant-b: the one naming it too');
  t.same(await actions('tenant-c'), [], 'tenant-c: none; the spec apply names no guest, and the others are not its own');
});
