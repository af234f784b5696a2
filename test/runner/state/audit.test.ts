import { appendFile, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { AuditLog, AuditLogError, auditEntryHash, GENESIS_HASH, verifyAuditLog, type AuditEntry, type AuditRecord } from '../../../runner/state/audit.js';

const record = (n: number, overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  actor: 'ABCD1234ABCD1234',
  action: 'spec.apply',
  box: 'box-1',
  tier: 'host',
  envelopeDigest: String(n).padStart(64, '0'),
  outcome: 'succeeded',
  ...overrides,
});

/** A log of `count` entries on disk; returns its path and its lines. */
async function writeLog(dir: string, count = 4): Promise<{ file: string; lines: string[] }> {
  const file = join(dir, 'audit.jsonl');
  const log = await AuditLog.open(file);
  for (let n = 1; n <= count; n++) await log.append(record(n));
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  return { file, lines };
}

const writeLines = (file: string, lines: string[]) => writeFile(file, `${lines.join('\n')}\n`);
const rehash = (entry: Omit<AuditEntry, 'hash'>): AuditEntry => ({ ...entry, hash: auditEntryHash(entry) });

t.test('appended entries form a hash chain that verifies', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 3);
  const entries = lines.map((line) => JSON.parse(line) as AuditEntry);
  t.same(
    entries.map((e) => e.seq),
    [1, 2, 3],
  );
  t.equal(entries[0]!.prevHash, GENESIS_HASH);
  t.equal(entries[1]!.prevHash, entries[0]!.hash);
  t.equal(entries[2]!.hash, auditEntryHash(entries[2]!));
  const result = await verifyAuditLog(file);
  t.ok(result.ok);
  t.same(result.problems, []);
  t.same(result.head, { seq: 3, hash: entries[2]!.hash });
});

t.test('a reopened log continues the chain', async (t) => {
  const { file } = await writeLog(t.testdir(), 2);
  const log = await AuditLog.open(file);
  const third = await log.append(record(3, { outcome: 'rejected', reason: { code: 'ESIGNATURE', message: 'unknown key' } }));
  t.equal(third.seq, 3);
  t.same(third.reason, { code: 'ESIGNATURE', message: 'unknown key' });
  t.ok((await verifyAuditLog(file)).ok);
});

t.test('concurrent appends are serialised into one chain', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl');
  const log = await AuditLog.open(file);
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(record(i))));
  const result = await verifyAuditLog(file);
  t.ok(result.ok);
  t.equal(result.entries.length, 20);
});

t.test('verify names an edited entry', async (t) => {
  const { file, lines } = await writeLog(t.testdir());
  const entry = JSON.parse(lines[1]!) as AuditEntry;
  lines[1] = JSON.stringify({ ...entry, outcome: 'failed' });
  await writeLines(file, lines);
  const result = await verifyAuditLog(file);
  t.notOk(result.ok);
  t.match(result.problems, [{ kind: 'edited', seq: 2, line: 2 }]);
});

t.test('verify catches an edit whose hash was recomputed by the link to the next entry', async (t) => {
  const { file, lines } = await writeLog(t.testdir());
  const { hash: _old, ...entry } = JSON.parse(lines[1]!) as AuditEntry;
  lines[1] = JSON.stringify(rehash({ ...entry, outcome: 'failed' }));
  await writeLines(file, lines);
  const result = await verifyAuditLog(file);
  t.match(result.problems, [{ kind: 'out-of-chain', seq: 3, line: 3 }]);
});

t.test('verify names a removed entry', async (t) => {
  const { file, lines } = await writeLog(t.testdir());
  lines.splice(1, 1);
  await writeLines(file, lines);
  const result = await verifyAuditLog(file);
  t.match(result.problems, [{ kind: 'removed', seq: 3, line: 2, message: /seq 2 missing/ }]);
});

t.test('verify names a removed first entry', async (t) => {
  const { file, lines } = await writeLog(t.testdir());
  lines.shift();
  await writeLines(file, lines);
  t.match((await verifyAuditLog(file)).problems, [{ kind: 'removed', seq: 2, line: 1 }]);
});

t.test('verify names reordered entries', async (t) => {
  const { file, lines } = await writeLog(t.testdir());
  [lines[1], lines[2]] = [lines[2]!, lines[1]!];
  await writeLines(file, lines);
  const result = await verifyAuditLog(file);
  t.match(result.problems, [{ kind: 'reordered', seq: 3, line: 2 }]);
});

t.test('verify names an entry appended outside the chain', async (t) => {
  const { file, lines } = await writeLog(t.testdir());
  const last = JSON.parse(lines.at(-1)!) as AuditEntry;
  // A forger knows the format and the next seq but links to a hash of their choosing.
  const forged = rehash({ ...record(5), seq: last.seq + 1, time: last.time, prevHash: 'f'.repeat(64) });
  await appendFile(file, `${JSON.stringify(forged)}\n`);
  const result = await verifyAuditLog(file);
  t.match(result.problems, [{ kind: 'out-of-chain', seq: 5, line: 5 }]);
  t.same(result.head, { seq: 4, hash: last.hash }, 'the head is the last intact entry');
});

t.test('verify reports a torn last line and a log with one refuses to open', async (t) => {
  const { file } = await writeLog(t.testdir());
  await appendFile(file, '{"seq":5,"time":"2026-');
  const result = await verifyAuditLog(file);
  t.match(result.problems, [{ kind: 'torn', line: 5 }]);
  t.equal(result.entries.length, 4, 'the complete entries are still read');

  const error = await AuditLog.open(file).catch((e: unknown) => e);
  t.type(error, AuditLogError);
  t.equal((error as AuditLogError).code, 'EAUDIT_BROKEN');
  t.match((error as Error).message, /line 5: torn/);
});

t.test('quarantining a torn tail keeps its bytes and records the event in the chain', async (t) => {
  const dir = t.testdir();
  const { file } = await writeLog(dir);
  await appendFile(file, '{"seq":5,"ti');
  const log = await AuditLog.open(file, { onTornTail: 'quarantine' });
  t.equal(log.head?.seq, 5);
  const result = await verifyAuditLog(file);
  t.ok(result.ok);
  t.match(result.entries.at(-1), { seq: 5, action: 'audit.torn-tail-quarantined', reason: { code: 'EAUDIT_TORN' } });
  const aside = (await readdir(dir)).find((name) => name.startsWith('audit.jsonl.torn-'));
  t.ok(aside, 'the torn bytes were moved aside');
  t.equal(await readFile(join(dir, aside!), 'utf8'), '{"seq":5,"ti');
});

t.test('a log broken by tampering refuses to open for appending', async (t) => {
  const { file, lines } = await writeLog(t.testdir());
  lines.splice(1, 1);
  await writeLines(file, lines);
  await t.rejects(AuditLog.open(file, { onTornTail: 'quarantine' }), { name: 'AuditLogError', code: 'EAUDIT_BROKEN' });
});

t.test('a line that is not an entry is reported as malformed', async (t) => {
  const { file, lines } = await writeLog(t.testdir());
  lines[0] = 'not json';
  lines[1] = '{"seq":2}';
  await writeLines(file, lines);
  t.match((await verifyAuditLog(file)).problems.slice(0, 2), [
    { kind: 'malformed', line: 1 },
    { kind: 'malformed', line: 2, message: /missing field/ },
  ]);
});

t.test('a missing log verifies as empty', async (t) => {
  const result = await verifyAuditLog(join(t.testdir(), 'none.jsonl'));
  t.same(result, { ok: true, entries: [], problems: [], head: null });
});
