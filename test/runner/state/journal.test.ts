import { readFile, writeFile } from 'node:fs/promises';
import t from 'tap';
import { Journal, JournalError, type JobHeader } from '../../../runner/state/journal.js';

const job = (overrides: Partial<JobHeader> = {}): JobHeader => ({
  id: overrides.id ?? 'a'.repeat(64),
  box: 'box-1',
  tier: 'host',
  serial: 1,
  type: 'spec',
  action: 'apply',
  ...overrides,
});

function clockFrom(start: number): () => Date {
  let now = start;
  return () => new Date((now += 1000));
}

t.test('a job moves received → verified → running → succeeded with a timestamp per state', async (t) => {
  const dir = t.testdir();
  const journal = await Journal.open(dir, { clock: clockFrom(Date.UTC(2026, 0, 1)) });
  await journal.receive(job());
  await journal.transition(job().id, 'verified');
  await journal.transition(job().id, 'running');
  const done = await journal.transition(job().id, 'succeeded');

  t.equal(done.state, 'succeeded');
  t.same(
    done.history.map((h) => h.state),
    ['received', 'verified', 'running', 'succeeded'],
  );
  t.same(
    done.history.map((h) => h.at),
    ['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:03.000Z', '2026-01-01T00:00:04.000Z'],
  );
});

t.test('each transition is on disk when it resolves', async (t) => {
  const dir = t.testdir();
  const journal = await Journal.open(dir);
  await journal.receive(job());
  await journal.transition(job().id, 'verified');
  const onDisk = JSON.parse(await readFile(Journal.fileIn(dir), 'utf8')) as { jobs: { state: string }[] };
  t.equal(onDisk.jobs[0]!.state, 'verified');
});

t.test('a rejected job carries its reason code and a failed one the error reason', async (t) => {
  const journal = await Journal.open(t.testdir());
  await journal.receive(job({ id: 'rejected-one' }));
  const rejected = await journal.transition('rejected-one', 'rejected', { code: 'EROLLBACK', message: 'serial 1 is not above 3' });
  t.same(rejected.reason, { code: 'EROLLBACK', message: 'serial 1 is not above 3' });

  await journal.receive(job({ id: 'failed-one' }));
  await journal.transition('failed-one', 'verified');
  await journal.transition('failed-one', 'running');
  const failed = await journal.transition('failed-one', 'failed', { code: 'EENGINE', message: 'pulumi up exited 255' });
  t.same(failed.reason, { code: 'EENGINE', message: 'pulumi up exited 255' });
});

t.test('transitions the state machine does not allow are refused', async (t) => {
  const journal = await Journal.open(t.testdir());
  await journal.receive(job());
  await t.rejects(journal.transition(job().id, 'running'), { name: 'JournalError', code: 'EJOURNAL_TRANSITION' }, 'received cannot jump to running');
  await t.rejects(journal.transition(job().id, 'rejected'), { code: 'EJOURNAL_REASON' }, 'a rejection needs its reason');
  await t.rejects(journal.transition('nope', 'verified'), { code: 'EJOURNAL_UNKNOWN' });
  await t.rejects(journal.receive(job()), JournalError, 'a job id is received once');
  await journal.transition(job().id, 'rejected', { code: 'EEXPIRED', message: 'expired' });
  await t.rejects(journal.transition(job().id, 'verified'), { code: 'EJOURNAL_TRANSITION' }, 'final states are final');
});

t.test('last applied serial and spec digest come from succeeded jobs only', async (t) => {
  const journal = await Journal.open(t.testdir());
  t.equal(journal.lastApplied('box-1', 'host'), null);

  const run = async (header: JobHeader, end: 'succeeded' | 'failed') => {
    await journal.receive(header);
    await journal.transition(header.id, 'verified');
    await journal.transition(header.id, 'running');
    await journal.transition(header.id, end, end === 'failed' ? { code: 'EENGINE', message: 'boom' } : undefined);
  };
  await run(job({ id: 'spec-3', serial: 3 }), 'succeeded');
  await run(job({ id: 'job-4', serial: 4, type: 'job', action: 'snapshot' }), 'succeeded');
  await run(job({ id: 'spec-5', serial: 5 }), 'failed');
  await run(job({ id: 'spec-2', serial: 2, tier: 'guest' }), 'succeeded');

  const host = journal.lastApplied('box-1', 'host');
  t.equal(host?.serial, 4, 'the job raised the serial floor');
  t.equal(host?.specDigest, 'spec-3', 'the job did not change the applied spec; the failed spec did not count');
  t.equal(journal.lastApplied('box-1', 'guest')?.serial, 2, 'tiers are tracked apart');
});

t.test('a job left running by a crash is found after reopening', async (t) => {
  const dir = t.testdir();
  const first = await Journal.open(dir);
  await first.receive(job({ id: 'crashed' }));
  await first.transition('crashed', 'verified');
  await first.transition('crashed', 'running');
  await first.receive(job({ id: 'waiting', serial: 2 }));

  const afterRestart = await Journal.open(dir);
  t.same(
    afterRestart.leftRunning().map((j) => j.id),
    ['crashed'],
  );
  t.same(
    afterRestart.unfinished().map((j) => j.id),
    ['crashed', 'waiting'],
  );
  t.same(
    afterRestart.recent(1).map((j) => j.id),
    ['waiting'],
    'recent lists newest first',
  );
});

t.test('old finished entries are pruned but the applied floor is kept', async (t) => {
  const journal = await Journal.open(t.testdir(), { maxFinishedEntries: 2 });
  for (let serial = 1; serial <= 4; serial++) {
    const id = `spec-${serial}`;
    await journal.receive(job({ id, serial }));
    await journal.transition(id, 'verified');
    await journal.transition(id, 'running');
    await journal.transition(id, 'succeeded');
  }
  t.same(
    journal.recent(10).map((j) => j.id),
    ['spec-4', 'spec-3'],
  );
  t.equal(journal.lastApplied('box-1', 'host')?.serial, 4);
});

t.test('a corrupt journal is a clear error naming the file', async (t) => {
  const dir = t.testdir({ 'journal.json': '{"version":1,"jobs":[' });
  await t.rejects(Journal.open(dir), { name: 'StoreCorruptError', code: 'ESTORE_CORRUPT', file: Journal.fileIn(dir) });
});

t.test('the rollback floor is the highest serial verified: a failed spec holds it, it survives a reopen, and it never goes down', async (t) => {
  const dir = t.testdir();
  const journal = await Journal.open(dir);
  t.equal(journal.verifiedFloor('box-1', 'host'), null, 'a fresh box has no floor');
  await journal.receive(job({ id: 'spec-40', serial: 40 }));
  await journal.transition('spec-40', 'verified');
  t.equal(journal.verifiedFloor('box-1', 'host'), 40, 'the floor rises at verification, before any apply');
  await journal.transition('spec-40', 'running');
  await journal.transition('spec-40', 'failed', { code: 'EENGINE', message: 'boom' });
  await journal.receive(job({ id: 'job-12', serial: 12, type: 'job', action: 'refresh' }));
  await journal.transition('job-12', 'verified');
  const reopened = await Journal.open(dir);
  t.equal(reopened.verifiedFloor('box-1', 'host'), 40, 'a failed apply and a lower verified serial leave it at 40');
  t.equal(reopened.lastApplied('box-1', 'host'), null, 'nothing was applied');
  t.equal(reopened.verifiedFloor('box-1', 'guest'), null, 'tiers are kept apart');
});

t.test('a journal written before floors were kept starts from its last applied serial', async (t) => {
  const dir = t.testdir();
  await writeFile(Journal.fileIn(dir), JSON.stringify({ version: 1, jobs: [], applied: { 'box-1/host': { serial: 7, jobId: 'x', at: '2026-01-01T00:00:00.000Z', specDigest: null } } }));
  t.equal((await Journal.open(dir)).verifiedFloor('box-1', 'host'), 7);
});

t.test('a box-side failure waits with its retry schedule; only a rejected copy can be set aside', async (t) => {
  const journal = await Journal.open(t.testdir());
  await journal.receive(job({ id: 'spec-7', serial: 7 }));
  await journal.transition('spec-7', 'verified');
  await journal.transition('spec-7', 'running');
  const waiting = await journal.transition('spec-7', 'waiting', { code: 'ESECRET', message: 'missing' }, { retry: { attempt: 1, nextAt: '2026-06-01T12:00:30.000Z' } });
  t.match(waiting, { state: 'waiting', retry: { attempt: 1 } });
  t.match(journal.unfinished(), [{ id: 'spec-7', state: 'waiting' }], 'a waiting entry is unfinished');
  await t.rejects(journal.setAsideRejected('spec-7'), { code: 'EJOURNAL_TRANSITION' });
  await t.rejects(journal.setAsideRejected('nope'), { code: 'EJOURNAL_UNKNOWN' });
  await journal.receive({ ...job({ id: 'copy', serial: 8 }), copy: 'a'.repeat(64) });
  await journal.transition('copy', 'rejected', { code: 'ETAMPERED', message: 'bad' });
  t.equal(await journal.setAsideRejected('copy'), `copy#${'a'.repeat(16)}`);
  await journal.receive({ ...job({ id: 'copy', serial: 8 }), copy: 'a'.repeat(64) });
  await journal.transition('copy', 'rejected', { code: 'ETAMPERED', message: 'bad' });
  t.equal(await journal.setAsideRejected('copy'), `copy#${'a'.repeat(16)}.2`, 'the same copy set aside twice gets its own id');
  t.ok(journal.digests().has('copy'));
});
