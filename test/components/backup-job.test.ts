import t from 'tap';
import { argsErrorFrom, mocks, promiseOf } from '../helpers/mocks.js';
import { BackupJob, backupJobRules, pruneBackups, type BackupJobArgs } from '../../components/backup-job.js';
import { checkRules } from '../../components/validation.js';

const JOB = 'proxmoxve:backup/job:Job';

const baseArgs: BackupJobArgs = { jobId: 'felhom-nightly', storage: 'usb1', schedule: '*-*-* 02:30', vmIds: [120], keepDaily: 7, keepWeekly: 4 };

function withArgs(patch: Partial<BackupJobArgs>): BackupJobArgs {
  return { ...baseArgs, ...patch };
}

t.beforeEach(() => mocks.reset());

t.test('pruneBackups maps the keep-* args to vzdump options, only the given ones', async (t) => {
  t.same(pruneBackups({ keepLast: 3, keepDaily: 7 }), { 'keep-last': '3', 'keep-daily': '7' });
  t.same(pruneBackups({ keepHourly: 1, keepWeekly: 2, keepMonthly: 3, keepYearly: 4 }), { 'keep-hourly': '1', 'keep-weekly': '2', 'keep-monthly': '3', 'keep-yearly': '4' });
  t.same(pruneBackups({}), {});
});

t.test('given a schedule and retention, one vzdump job is created with safe defaults', async (t) => {
  const job = new BackupJob('nightly', baseArgs);
  await mocks.settle();
  t.same(mocks.inventory(), ['felhom:host:BackupJob::nightly', `${JOB}::nightly-job`]);
  const resource = mocks.one(JOB, 'nightly-job');
  t.same(resource.inputs, {
    resourceId: 'felhom-nightly',
    storage: 'usb1',
    schedule: '*-*-* 02:30',
    vmids: ['120'],
    mode: 'snapshot',
    compress: 'zstd',
    pruneBackups: { 'keep-daily': '7', 'keep-weekly': '4' },
    enabled: true,
    repeatMissed: true,
    notesTemplate: '{{guestname}} (felhom)',
  });
  t.notOk('excludePaths' in resource.inputs, 'no path exclusion: bulk mounts are excluded by their backup flag');
  t.equal(resource.deleteBeforeReplace, true, 'job ids are unique: remove the old job first');
  t.equal(resource.parent, mocks.one('felhom:host:BackupJob').urn);
  t.equal(await promiseOf(job.jobId), 'felhom-nightly');
  t.equal(await promiseOf(job.storage), 'usb1');
  t.equal(await promiseOf(job.schedule), '*-*-* 02:30');
});

t.test('given a node, mode, compression and exclusions, they reach the job', async (t) => {
  new BackupJob('weekly', withArgs({ node: 'pve', mode: 'stop', compress: 'gzip', excludePaths: ['/var/cache/'], enabled: false, repeatMissed: false, notesTemplate: 'x', vmIds: [120, 121] }));
  await mocks.settle();
  t.match(mocks.one(JOB).inputs, { node: 'pve', mode: 'stop', compress: 'gzip', excludePaths: ['/var/cache/'], enabled: false, repeatMissed: false, notesTemplate: 'x', vmids: ['120', '121'] });
});

const broken: [string, Partial<BackupJobArgs>, string, RegExp][] = [
  ['a job id with a space', { jobId: 'nightly job' }, 'jobId', /job id.*got "nightly job"/],
  ['a bad storage', { storage: '' }, 'storage', /storage id, got ""/],
  ['a cron line', { schedule: '30 2 * * *' }, 'schedule', /calendar event.*got "30 2 \* \* \*"/],
  ['an empty schedule', { schedule: '' }, 'schedule', /calendar event/],
  ['no guests', { vmIds: [] }, 'vmIds', /at least one VM id/],
  ['a VM id below 100', { vmIds: [42] }, 'vmIds', /from 100 to 999999999, got \[42\]/],
  ['a repeated VM id', { vmIds: [120, 120] }, 'vmIds', /each VM id once, got 120/],
  ['an empty node', { node: '' }, 'node', /node name/],
  ['an unknown mode', { mode: 'hot' as 'stop' }, 'mode', /snapshot, suspend or stop, got "hot"/],
  ['a negative keepLast', { keepLast: -1 }, 'keepLast', /from 0 to 100000, got -1/],
  ['a fractional keepHourly', { keepHourly: 1.5 }, 'keepHourly', /got 1.5/],
  ['a non-integer keepMonthly', { keepMonthly: 0.5 }, 'keepMonthly', /got 0.5/],
  ['a negative keepYearly', { keepYearly: -2 }, 'keepYearly', /got -2/],
  ['an unknown compression', { compress: 'xz' as 'zstd' }, 'compress', /0, gzip, lzo or zstd, got "xz"/],
  ['a relative exclude path', { excludePaths: ['tmp'] }, 'excludePaths', /absolute paths.*\["tmp"\]/],
];

for (const [what, patch, field, message] of broken) {
  t.test(`given ${what}, validation names ${field}`, async (t) => {
    const problems = checkRules(backupJobRules, withArgs(patch));
    t.equal(problems.length, 1, 'exactly one rule breaks');
    t.equal(problems[0]?.field, field);
    t.match(problems[0]?.message, message);
  });
}

t.test('given no retention above zero, validation refuses a job that would keep everything', async (t) => {
  const problems = checkRules(backupJobRules, { ...baseArgs, keepDaily: undefined, keepWeekly: 0 });
  t.same(problems.map((p) => p.field), ['keepLast']);
  t.match(problems[0]?.message, /at least one keep-\* retention above 0/);
});

t.test('given invalid args, the constructor throws and registers nothing', async (t) => {
  const error = argsErrorFrom(t, () => new BackupJob('nightly', withArgs({ vmIds: [] })));
  t.same(error?.problems.map((p) => p.field), ['vmIds']);
  await mocks.settle();
  t.same(mocks.resources, []);
});
