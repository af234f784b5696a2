import { readFile, writeFile } from 'node:fs/promises';
import t from 'tap';
import { AuditLog } from '../../runner/state/audit.js';
import { felhom } from '../helpers/cli.js';

async function logWith(dir: string, count: number): Promise<string> {
  const file = AuditLog.fileIn(dir);
  const log = await AuditLog.open(file);
  for (let i = 0; i < count; i++) await log.append({ actor: 'agent', action: 'job.snapshot', box: 'box-1', tier: 'host', envelopeDigest: null, outcome: 'succeeded' });
  return file;
}

t.test('audit verify exits 0 on an intact log and prints the head', async (t) => {
  const dir = t.testdir();
  await logWith(dir, 3);
  const result = await felhom(['audit', 'verify', '--state', dir]);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /is intact: 3 entries; head seq 3 hash [0-9a-f]{64}/);
});

t.test('audit verify exits 1 naming the broken entry', async (t) => {
  const file = await logWith(t.testdir(), 3);
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  lines[1] = lines[1]!.replace('"succeeded"', '"failed"');
  await writeFile(file, `${lines.join('\n')}\n`);
  const result = await felhom(['audit', 'verify', '--file', file]);
  t.equal(result.code, 1);
  t.match(result.stderr, `felhom: EAUDIT_BROKEN: audit log ${file} is broken at entry seq 2 (line 2): edited`);
});

t.test('audit verify --json reports ok and problems and keeps the exit status', async (t) => {
  const file = await logWith(t.testdir(), 2);
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  await writeFile(file, `${lines[1]}\n`);
  const result = await felhom(['audit', 'verify', '--file', file, '--json']);
  t.equal(result.code, 1);
  t.match(JSON.parse(result.stdout), { ok: false, entries: 1, problems: [{ kind: 'removed', seq: 2, line: 1 }] });
});
