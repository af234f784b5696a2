import t from 'tap';
import { isJournalStream, jsonLogger, SecretRegistry } from '../../../runner/agent/logger.js';
import { toReason, errorKind } from '../../../runner/agent/errors.js';
import { FelhomError } from '../../../lib/errors.js';

t.test('the logger writes JSON lines and redacts every registered secret', async (t) => {
  let out = '';
  const secrets = new SecretRegistry();
  secrets.add('hunter2-very-secret');
  const log = jsonLogger({ stream: { write: (chunk) => (out += chunk) }, secrets, clock: () => new Date(0) });
  log.info('engine output', { text: 'token=hunter2-very-secret ok' });
  log.debug('hidden at info level');
  t.same(JSON.parse(out), { time: '1970-01-01T00:00:00.000Z', level: 'info', msg: 'engine output', text: 'token=[secret] ok' });
});

t.test('errors are classified by their own kind and code', async (t) => {
  t.equal(errorKind(new FelhomError('ELOCK_HELD', 'waiting', 'held')), 'waiting');
  t.equal(errorKind(new Error('x')), 'generic');
  t.same(toReason(new FelhomError('EREPLAY', 'stalled', 'first\nsecond')), { code: 'EREPLAY', message: 'first' });
  t.same(toReason('plain'), { code: 'EAGENT_INTERNAL', message: 'plain' });
  const details = Array.from({ length: 25 }, (_, index) => `error: r${index}: ${'x'.repeat(index === 0 ? 600 : 3)}`);
  // A line that is not a string (from plain JavaScript) is dropped.
  const reason = toReason(new FelhomError('EENGINE_RUN', 'generic', 'the engine failed', { details: [...details, 7 as unknown as string] }));
  t.equal(reason.details?.length, 20, 'at most 20 detail lines travel');
  t.equal(reason.details?.[0]?.length, 500, 'each cut at 500 characters');
  t.equal(reason.details?.at(-1), '... and 6 more', 'the rest counted');
  t.notOk('details' in toReason(new FelhomError('EENGINE_RUN', 'generic', 'x', { details: [] })), 'no empty details');
});

t.test('on a journald stream each line carries its sd-daemon priority', async (t) => {
  let out = '';
  const log = jsonLogger({ stream: { write: (chunk) => (out += chunk) }, level: 'debug', journald: true, clock: () => new Date(0) });
  log.error('e');
  log.warn('w');
  log.info('i');
  log.debug('d');
  t.same(out.split('\n').filter(Boolean).map((line) => line.slice(0, 3)), ['<3>', '<4>', '<6>', '<7>']);
  t.same(JSON.parse(out.split('\n')[1]!.slice(3)), { time: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'w' });
});

t.test('JOURNAL_STREAM counts only while the descriptor is still that stream', async (t) => {
  const { openSync, fstatSync, closeSync } = await import('node:fs');
  const { join } = await import('node:path');
  const fd = openSync(join(t.testdir(), 'journal'), 'w');
  t.teardown(() => closeSync(fd));
  const stat = fstatSync(fd);
  t.equal(isJournalStream({ JOURNAL_STREAM: `${stat.dev}:${stat.ino}` }, fd), true);
  t.equal(isJournalStream({ JOURNAL_STREAM: `${stat.dev}:${stat.ino + 1}` }, fd), false, 'redirected elsewhere');
  t.equal(isJournalStream({}, fd), false);
  t.equal(isJournalStream({ JOURNAL_STREAM: 'garbage' }, fd), false);
  t.equal(isJournalStream({ JOURNAL_STREAM: `${stat.dev}:${stat.ino}` }, 987654), false, 'a closed descriptor');
});
