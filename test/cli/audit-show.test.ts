import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { AuditLog } from '../../runner/state/audit.js';
import { felhom } from '../helpers/cli.js';

async function stateWithLog(dir: string): Promise<string> {
  const log = await AuditLog.open(AuditLog.fileIn(dir));
  await log.append({ actor: 'ABCDEF0123456789', action: 'spec.apply', box: 'box-1', tier: 'host', envelopeDigest: 'c'.repeat(64), outcome: 'accepted' });
  await log.append({ actor: 'ABCDEF0123456789', action: 'spec.apply', box: 'box-1', tier: 'host', envelopeDigest: 'c'.repeat(64), outcome: 'failed', reason: { code: 'EENGINE', message: 'pulumi up failed' } });
  return dir;
}

t.test('audit show prints one line per entry, oldest first', async (t) => {
  const state = await stateWithLog(t.testdir());
  const result = await felhom(['audit', 'show', '--state', state]);
  t.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  t.equal(lines.length, 2);
  t.match(lines[0], /^\s*1\s+\S+\s+box-1\/host\s+spec\.apply\s+accepted\s+by ABCDEF0123456789\s+sha256 cccccccccccc$/);
  t.match(lines[1], /failed .* EENGINE: pulumi up failed$/);
});

t.test('audit show --file --json prints entries and problems', async (t) => {
  const state = await stateWithLog(t.testdir());
  await appendFile(join(state, 'audit.jsonl'), '{"torn');
  const result = await felhom(['audit', 'show', '--file', join(state, 'audit.jsonl'), '--json']);
  t.equal(result.code, 0);
  const shown = JSON.parse(result.stdout) as { entries: unknown[]; problems: { kind: string }[] };
  t.equal(shown.entries.length, 2);
  t.match(shown.problems, [{ kind: 'torn', line: 3 }]);
});

t.test('audit show warns when the log does not verify', async (t) => {
  const state = await stateWithLog(t.testdir());
  await appendFile(join(state, 'audit.jsonl'), '{"torn');
  const result = await felhom(['audit', 'show', '--state', state]);
  t.match(result.stderr, 'does not verify');
  t.match(result.stderr, 'line 3: torn');
});

t.test('audit show needs exactly one of --state and --file, and an existing log', async (t) => {
  t.equal((await felhom(['audit', 'show'])).code, 2);
  t.equal((await felhom(['audit', 'show', '--state', 'a', '--file', 'b'])).code, 2);
  const missing = await felhom(['audit', 'show', '--state', t.testdir()]);
  t.equal(missing.code, 3);
  t.match(missing.stderr, 'ENOENT: no audit log at');
});
