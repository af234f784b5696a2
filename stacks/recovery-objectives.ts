/**
 * Recovery objectives (docs/architecture.md#backup-tiers, #open-decisions): what a box spec's backup schedules
 * promise, per failure scope, computed from the spec alone (`felhom plan` prints them).
 *
 * - **RPO** (recovery point): the longest time between two backups of a guest on storages that
 *   survive the scope: the most work that can be lost. The worst guest counts.
 * - **RTO** (recovery time): the time to restore every guest's root filesystem from the fastest
 *   surviving source at the throughputs in {@link RESTORE_MIB_PER_SECOND}, plus
 *   {@link REPROVISION_HOURS} for re-provisioning when the box itself is gone. Replacement
 *   hardware's delivery is not included: it depends on a person, not on the spec.
 *
 * Scopes, as the seed's tiers survive them: `disk-loss` (the host's primary disk dies; any second
 * storage survives), `box-loss` (the box dies; a NAS or the offsite PBS survives, a USB disk is
 * taken as lost with the box), `site-loss` (only the offsite PBS survives). Bulk data has its
 * own schedule (`spec.backup.bulk`) and is reported apart.
 */
import type { BoxSpec, StorageSpec } from './spec/types.js';

export type FailureScope = 'disk-loss' | 'box-loss' | 'site-loss';
export const FAILURE_SCOPES: readonly FailureScope[] = ['disk-loss', 'box-loss', 'site-loss'];

/** Restore throughput assumed per source, MiB/s (vzdump archives, compression included). */
export const RESTORE_MIB_PER_SECOND = { fast: 150, slow: 40, pbs: 12 } as const;
/** Re-enrolling a replacement box and its host tier (docs/architecture.md#enrollment, #restore-mode), hours. */
export const REPROVISION_HOURS = 0.5;
/** A guest's root filesystem when the spec gives none (stacks/spec/types.ts). */
const DEFAULT_DISK_GIB = 32;
const WEEK_MINUTES = 7 * 24 * 60;

export interface RecoveryObjective {
  readonly scope: FailureScope;
  /** Backup storages that survive the scope and hold every guest's backups. */
  readonly sources: readonly string[];
  /** Hours of work that can be lost; null when no backup survives. */
  readonly rpoHours: number | null;
  /** Hours to restore; null when no backup survives. */
  readonly rtoHours: number | null;
  /** The source the RTO restores from. */
  readonly restoreFrom: string | null;
  /** Why a figure is missing (a schedule not understood, a guest with no surviving backup). */
  readonly note?: string;
}

export interface RecoveryObjectives {
  readonly guests: readonly RecoveryObjective[];
  /** Bulk data (file-level copies), per scope; absent when the spec backs up no bulk data. */
  readonly bulk?: readonly Pick<RecoveryObjective, 'scope' | 'sources' | 'rpoHours' | 'note'>[];
}

/** Whether a storage's backups survive a failure of `scope`. */
export function survives(storage: StorageSpec, scope: FailureScope): boolean {
  if (storage.type === 'pbs') return true;
  if (scope === 'site-loss') return false;
  if (scope === 'box-loss') return storage.type === 'nfs' || storage.type === 'cifs';
  return true;
}

export function recoveryObjectives(spec: BoxSpec): RecoveryObjectives {
  const storages = new Map((spec.spec.storage ?? []).map((storage) => [storage.name, storage]));
  const guests = spec.spec.guests;
  const jobs = spec.spec.backup?.jobs ?? [];
  const objectives = FAILURE_SCOPES.map((scope): RecoveryObjective => {
    const surviving = jobs.filter((job) => {
      const storage = storages.get(job.storage);
      return storage !== undefined && survives(storage, scope);
    });
    let worstGap: number | null = 0;
    let note: string | undefined;
    for (const guest of guests) {
      const covering = surviving.filter((job) => job.guests === undefined || job.guests.includes(guest.name));
      if (covering.length === 0) {
        worstGap = null;
        note = `no backup of guest ${guest.name} survives ${scope}`;
        break;
      }
      const minutes = firingMinutes(covering.map((job) => job.schedule));
      if (minutes === null) {
        worstGap = null;
        note = `a schedule of ${covering.map((job) => job.name).join(', ')} is not one this estimate reads (${covering.map((job) => JSON.stringify(job.schedule)).join(', ')})`;
        break;
      }
      worstGap = Math.max(worstGap!, largestGap(minutes));
    }
    const sources = [...new Set(surviving.map((job) => job.storage))];
    if (worstGap === null || sources.length === 0) return { scope, sources, rpoHours: null, rtoHours: null, restoreFrom: null, ...(note ? { note } : { note: `no backup survives ${scope}` }) };
    const fastest = sources.map((name) => storages.get(name)!).sort((a, b) => throughput(b) - throughput(a))[0]!;
    const gib = guests.reduce((sum, guest) => sum + (guest.diskGiB ?? DEFAULT_DISK_GIB), 0);
    const restoreHours = (gib * 1024) / throughput(fastest) / 3600;
    const rtoHours = round(restoreHours + (scope === 'disk-loss' ? 0 : REPROVISION_HOURS));
    return { scope, sources, rpoHours: round(worstGap / 60), rtoHours, restoreFrom: fastest.name };
  });
  const bulkSpec = spec.spec.backup?.bulk;
  if (!bulkSpec) return { guests: objectives };
  const bulkStorage = storages.get(bulkSpec.storage);
  const bulkMinutes = firingMinutes([bulkSpec.schedule]);
  const bulk = FAILURE_SCOPES.map((scope) => {
    if (!bulkStorage || !survives(bulkStorage, scope)) return { scope, sources: [], rpoHours: null, note: `bulk data on ${bulkSpec.storage} does not survive ${scope}` };
    if (bulkMinutes === null) return { scope, sources: [bulkSpec.storage], rpoHours: null, note: `schedule ${JSON.stringify(bulkSpec.schedule)} is not one this estimate reads` };
    return { scope, sources: [bulkSpec.storage], rpoHours: round(largestGap(bulkMinutes) / 60) };
  });
  return { guests: objectives, bulk };
}

/** One line per scope for `felhom plan`. */
export function recoveryObjectiveLines(objectives: RecoveryObjectives): string[] {
  const hours = (value: number | null) => (value === null ? 'none' : value >= 48 ? `${round(value / 24)} d` : `${value} h`);
  const lines = ['recovery objectives (from the backup schedules; RTO excludes replacement hardware delivery):'];
  for (const objective of objectives.guests) {
    lines.push(`  ${objective.scope.padEnd(9)}  RPO ${hours(objective.rpoHours).padEnd(6)}  RTO ${hours(objective.rtoHours).padEnd(6)}  ${objective.restoreFrom ? `restore from ${objective.restoreFrom}` : objective.note ?? ''}`);
  }
  for (const objective of objectives.bulk ?? []) {
    lines.push(`  ${objective.scope.padEnd(9)}  bulk data RPO ${hours(objective.rpoHours)}${objective.note ? `  (${objective.note})` : ''}`);
  }
  return lines;
}

function throughput(storage: StorageSpec): number {
  return storage.type === 'pbs' ? RESTORE_MIB_PER_SECOND.pbs : RESTORE_MIB_PER_SECOND[storage.class];
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The largest gap, in minutes, between consecutive firings in a repeating week. */
function largestGap(minutes: readonly number[]): number {
  const sorted = [...new Set(minutes)].sort((a, b) => a - b);
  let gap = sorted[0]! + WEEK_MINUTES - sorted.at(-1)!;
  for (let i = 1; i < sorted.length; i++) gap = Math.max(gap, sorted[i]! - sorted[i - 1]!);
  return gap;
}

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/**
 * Minutes of the week (0 = Monday 00:00) at which any of the Proxmox calendar events fire, or
 * null when one is outside the subset read here: `[weekdays] [*-*-*] hour:minute` with
 * weekdays as lists and `..` ranges, hours and minutes as `*`, numbers, lists or `start/step`,
 * and the words minutely, hourly, daily and weekly.
 */
export function firingMinutes(events: readonly string[]): number[] | null {
  const all: number[] = [];
  for (const event of events) {
    const minutes = eventMinutes(event.trim().toLowerCase());
    if (minutes === null || minutes.length === 0) return null;
    all.push(...minutes);
  }
  return all;
}

function eventMinutes(event: string): number[] | null {
  const words: Record<string, string> = { minutely: '*:*', hourly: '*:00', daily: '00:00', weekly: 'mon 00:00' };
  const text = words[event] ?? event;
  const parts = text.split(/\s+/);
  let days = [0, 1, 2, 3, 4, 5, 6];
  if (parts.length > 1 && /^[a-z]/.test(parts[0]!)) {
    const parsed = weekdays(parts.shift()!);
    if (!parsed) return null;
    days = parsed;
  }
  if (parts[0] === '*-*-*') parts.shift();
  if (parts.length !== 1) return null;
  const match = /^([^:]+):([^:]+)(?::00)?$/.exec(parts[0]!);
  if (!match) return null;
  const hours = field(match[1]!, 24);
  const mins = field(match[2]!, 60);
  if (!hours || !mins) return null;
  return days.flatMap((day) => hours.flatMap((hour) => mins.map((minute) => day * 1440 + hour * 60 + minute)));
}

function weekdays(text: string): number[] | null {
  const days = new Set<number>();
  for (const item of text.split(',')) {
    const [from, to] = item.split('..');
    const start = WEEKDAYS.indexOf(from!.slice(0, 3));
    const end = to === undefined ? start : WEEKDAYS.indexOf(to.slice(0, 3));
    if (start < 0 || end < 0 || end < start) return null;
    for (let day = start; day <= end; day++) days.add(day);
  }
  return [...days];
}

function field(text: string, size: number): number[] | null {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const step = /^(\*|\d{1,2})\/(\d{1,2})$/.exec(item);
    if (item === '*') for (let v = 0; v < size; v++) values.add(v);
    else if (step) {
      const start = step[1] === '*' ? 0 : Number(step[1]);
      const by = Number(step[2]);
      if (by === 0) return null;
      for (let v = start; v < size; v += by) values.add(v);
    } else if (/^\d{1,2}$/.test(item) && Number(item) < size) values.add(Number(item));
    else return null;
  }
  return [...values];
}
