/**
 * The backup job's argument types and rules (components/backup-job.ts): pure functions that need no Pulumi
 * runtime, so the box spec validator checks a spec with the same rules the component applies.
 */
import { calendarEventMessage, calendarEventProblem } from '../calendar-event.js';
import { duplicates, integerBetween, isAbsolutePath, isProxmoxId, nonEmpty, shown, type Rule } from '../validation.js';

export const BACKUP_JOB_TYPE = 'felhom:host:BackupJob';

export interface BackupJobArgs {
  /** The Proxmox backup job id (`pvesh get /cluster/backup`), unique on the cluster. */
  readonly jobId: string;
  /** The storage receiving the backups (a StorageTarget with the backup role). */
  readonly storage: string;
  /** Proxmox calendar event, for example `*-*-* 02:30` or `sun 03:00`. */
  readonly schedule: string;
  /** The guests backed up, by VM id. */
  readonly vmIds: readonly number[];
  /** Only run on this node. @default - every node holding one of the guests */
  readonly node?: string;
  /** vzdump mode. @default - snapshot (no downtime) */
  readonly mode?: 'snapshot' | 'suspend' | 'stop';
  /** Keep the last n backups. @default - not used */
  readonly keepLast?: number;
  /** Keep one backup per hour for the last n hours. @default - not used */
  readonly keepHourly?: number;
  /** Keep one backup per day for the last n days. @default - not used */
  readonly keepDaily?: number;
  /** Keep one backup per week for the last n weeks. @default - not used */
  readonly keepWeekly?: number;
  /** Keep one backup per month for the last n months. @default - not used */
  readonly keepMonthly?: number;
  /** Keep one backup per year for the last n years. @default - not used */
  readonly keepYearly?: number;
  /** Compression. @default - zstd */
  readonly compress?: '0' | 'gzip' | 'lzo' | 'zstd';
  /** Paths inside the guest left out of the archive (vzdump `exclude-path`). @default - none: bulk mount points are already excluded by their backup flag */
  readonly excludePaths?: readonly string[];
  /** Whether the job runs. @default - true */
  readonly enabled?: boolean;
  /** Run a missed job as soon as the host is back up. @default - true */
  readonly repeatMissed?: boolean;
  /** Notes attached to each backup (vzdump template variables allowed). @default - {{guestname}} (felhom) */
  readonly notesTemplate?: string;
}

/** vzdump's `prune-backups` map from the keep-* args; only the ones given. */
export function pruneBackups(args: Pick<BackupJobArgs, 'keepLast' | 'keepHourly' | 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly'>): Record<string, string> {
  const entries: [string, number | undefined][] = [
    ['keep-last', args.keepLast],
    ['keep-hourly', args.keepHourly],
    ['keep-daily', args.keepDaily],
    ['keep-weekly', args.keepWeekly],
    ['keep-monthly', args.keepMonthly],
    ['keep-yearly', args.keepYearly],
  ];
  return Object.fromEntries(entries.filter(([, value]) => value !== undefined).map(([key, value]) => [key, String(value)]));
}

/** The keep-* retention fields, in the box spec's and the component's words alike. */
export const KEEP_FIELDS = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;

/**
 * Whether a retention keeps anything: without any keep-* value above 0, vzdump would fall back
 * to the storage's retention or keep every backup until the disk is full.
 */
export function hasRetention(retention: Readonly<Partial<Record<(typeof KEEP_FIELDS)[number], unknown>>>): boolean {
  return KEEP_FIELDS.some((field) => typeof retention[field] === 'number' && (retention[field] as number) > 0);
}

/** The argument rules of {@link BackupJob}. */
export const backupJobRules: readonly Rule<BackupJobArgs>[] = [
  {
    field: 'jobId',
    // Proxmox's job ids are `pve-configid`s: a letter, then letters, digits, `-` and `_`.
    check: (a) => (typeof a.jobId === 'string' && /^[a-z][a-z0-9_-]{1,63}$/i.test(a.jobId) ? undefined : `expected a job id of a letter then letters, digits, "-", "_", got ${shown(a.jobId)}`),
  },
  { field: 'storage', check: (a) => (isProxmoxId(a.storage) ? undefined : `expected a Proxmox storage id, got ${shown(a.storage)}`) },
  {
    field: 'schedule',
    // PVE's own grammar (components/calendar-event.ts): what this accepts, Proxmox accepts.
    check: (a) => {
      const problem = calendarEventProblem(a.schedule);
      return problem === undefined ? undefined : calendarEventMessage(a.schedule, problem);
    },
  },
  {
    field: 'vmIds',
    check: (a) => {
      if (!Array.isArray(a.vmIds) || a.vmIds.length === 0) return `expected at least one VM id, got ${shown(a.vmIds)}`;
      const bad = a.vmIds.filter((id) => integerBetween(id, 100, 999_999_999) !== undefined);
      if (bad.length > 0) return `expected VM ids from 100 to 999999999, got ${shown(bad)}`;
      const repeated = duplicates(a.vmIds.map(String));
      return repeated.length > 0 ? `expected each VM id once, got ${repeated.join(', ')} more than once` : undefined;
    },
  },
  { field: 'node', check: (a) => (a.node === undefined ? undefined : nonEmpty(a.node, 'a Proxmox node name')) },
  { field: 'mode', check: (a) => (a.mode === undefined || ['snapshot', 'suspend', 'stop'].includes(a.mode) ? undefined : `expected snapshot, suspend or stop, got ${shown(a.mode)}`) },
  ...KEEP_FIELDS.map(
    (field): Rule<BackupJobArgs> => ({ field, check: (a) => (a[field] === undefined ? undefined : integerBetween(a[field], 0, 100_000)) }),
  ),
  { field: 'keepLast', check: (a) => (hasRetention(a) ? undefined : `expected at least one keep-* retention above 0, got ${shown(pruneBackups(a))}`) },
  { field: 'compress', check: (a) => (a.compress === undefined || ['0', 'gzip', 'lzo', 'zstd'].includes(a.compress) ? undefined : `expected 0, gzip, lzo or zstd, got ${shown(a.compress)}`) },
  {
    field: 'excludePaths',
    check: (a) => {
      const bad = (a.excludePaths ?? []).filter((path) => !isAbsolutePath(path));
      return bad.length === 0 ? undefined : `expected absolute paths inside the guest, got ${shown(bad)}`;
    },
  },
];

/** A vzdump job. Children: `<name>-job` (proxmoxve `backup.Job`). */
