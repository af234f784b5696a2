/**
 * Storage health (docs/architecture.md#storage-manifest): on each cycle the agent checks every storage target of the box's
 * manifest — defined on the host, enabled, mounted or reachable (active), and still the one it
 * was attached with (a disk's filesystem UUID, an NFS `server:/export`, a CIFS `//server/share`,
 * a PBS server, datastore and fingerprint) — and reports each target's status. A target that is
 * not healthy becomes an actionable report line naming what it affects (the backup jobs writing
 * to it, the bulk volumes living on it), and the backup jobs writing to it are held (disabled on
 * the host) so no vzdump starts onto a missing target; they are enabled again once it is back.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ResolvedBox } from '../../stacks/spec/resolve.js';
import { storagePath } from '../../stacks/spec/resolve.js';
import type { StorageSpec } from '../../stacks/spec/types.js';
import { PveApiClient, PveApiError } from './pve-api-client.js';

const execFileAsync = promisify(execFile);

export type StorageCondition = 'ok' | 'undefined' | 'disabled' | 'unavailable' | 'identity-mismatch';

export interface StorageTargetHealth {
  readonly storage: string;
  readonly type: StorageSpec['type'];
  readonly condition: StorageCondition;
  /** What was found, in a person's words. */
  readonly detail: string;
  /** The identity the manifest attached it with. */
  readonly expectedIdentity: string;
  /** The identity seen now, when it could be read. */
  readonly actualIdentity?: string;
  /** Backup job ids (on the host) writing to this target. */
  readonly backupJobs: readonly string[];
  /** Guest bulk volumes on this target: `<guest>:<path in the guest>`. */
  readonly bulkVolumes: readonly string[];
  /** Guests whose root filesystem is on it. */
  readonly rootfsGuests: readonly string[];
}

export interface StorageHealthReport {
  readonly checkedAt: string;
  readonly targets: readonly StorageTargetHealth[];
  /** True when every target is ok. */
  readonly healthy: boolean;
}

/** What the agent reads from its host about one storage. */
export interface StorageProbe {
  /** The storage definition (storage.cfg), undefined when the host does not define it. */
  definition(storage: string): Promise<Readonly<Record<string, unknown>> | undefined>;
  /** Enabled and active (mounted, reachable) now. */
  status(storage: string): Promise<{ readonly enabled: boolean; readonly active: boolean }>;
  /** The filesystem UUID mounted at a dir storage's path; undefined when nothing is mounted there. */
  mountIdentity(path: string): Promise<string | undefined>;
  /** Whether a backup job is enabled; undefined when the host has no such job. */
  jobEnabled(jobId: string): Promise<boolean | undefined>;
  /** Enables or disables a backup job on the host. */
  setJobEnabled(jobId: string, enabled: boolean): Promise<void>;
}

/** The host's backup job id of a spec job (the host tier names them so, stacks/host.ts). */
export function backupJobId(box: string, job: string): string {
  return `felhom-${box}-${job}`;
}

function expectedIdentity(storage: StorageSpec): string {
  return storage.type === 'pbs' ? `${storage.identity.server}/${storage.identity.datastore} ${storage.identity.fingerprint}` : storage.identity;
}

/** The identity a storage definition carries (for dir storages the mounted disk's UUID is read separately). */
function definedIdentity(storage: StorageSpec, definition: Readonly<Record<string, unknown>>): string | undefined {
  const field = (name: string) => (typeof definition[name] === 'string' ? (definition[name] as string) : '');
  switch (storage.type) {
    case 'nfs':
      return `${field('server')}:${field('export')}`;
    case 'cifs':
      return `//${field('server')}/${field('share')}`;
    case 'pbs':
      return `${field('server')}/${field('datastore')} ${field('fingerprint')}`;
    case 'dir':
      return undefined;
  }
}

function sameIdentity(storage: StorageSpec, actual: string): boolean {
  const expected = expectedIdentity(storage);
  return storage.type === 'pbs' || storage.type === 'dir' ? actual.toLowerCase() === expected.toLowerCase() : actual === expected;
}

function affected(box: ResolvedBox, storage: StorageSpec): Pick<StorageTargetHealth, 'backupJobs' | 'bulkVolumes' | 'rootfsGuests'> {
  return {
    backupJobs: box.backup.jobs.filter((job) => job.storage === storage.name).map((job) => backupJobId(box.box, job.name)),
    bulkVolumes: box.guests.flatMap((guest) => guest.mounts.filter((mount) => mount.storage === storage.name).map((mount) => `${guest.name}:${mount.path}`)),
    rootfsGuests: box.host.rootStorage === storage.name ? box.guests.map((guest) => guest.name) : [],
  };
}

async function checkTarget(box: ResolvedBox, storage: StorageSpec, probe: StorageProbe): Promise<StorageTargetHealth> {
  const base = { storage: storage.name, type: storage.type, expectedIdentity: expectedIdentity(storage), ...affected(box, storage) };
  const definition = await probe.definition(storage.name);
  if (!definition) return { ...base, condition: 'undefined', detail: `the host does not define storage ${storage.name}` };
  const fromDefinition = definedIdentity(storage, definition);
  if (fromDefinition !== undefined && !sameIdentity(storage, fromDefinition)) {
    return { ...base, condition: 'identity-mismatch', actualIdentity: fromDefinition, detail: `the host's ${storage.name} points at ${fromDefinition}, not ${base.expectedIdentity}` };
  }
  const status = await probe.status(storage.name);
  if (!status.enabled) return { ...base, condition: 'disabled', detail: `storage ${storage.name} is disabled on the host` };
  if (storage.type === 'dir') {
    const path = storagePath(storage)!;
    const mounted = await probe.mountIdentity(path);
    if (mounted === undefined || !status.active) return { ...base, condition: 'unavailable', detail: `no disk is mounted at ${path} (the USB disk ${storage.identity} is disconnected or not mounted)` };
    if (!sameIdentity(storage, mounted)) return { ...base, condition: 'identity-mismatch', actualIdentity: mounted, detail: `the disk mounted at ${path} is ${mounted}, not ${storage.identity}` };
    return { ...base, condition: 'ok', actualIdentity: mounted, detail: `disk ${mounted} mounted at ${path}` };
  }
  if (!status.active) {
    const what = storage.type === 'pbs' ? `the backup server ${storage.identity.server}` : `the NAS ${storage.identity}`;
    return { ...base, condition: 'unavailable', actualIdentity: fromDefinition!, detail: `${what} is unreachable` };
  }
  return { ...base, condition: 'ok', actualIdentity: fromDefinition!, detail: 'active' };
}

/** Checks every storage target of the manifest, one after another (the host answers each quickly). */
export async function checkStorageHealth(box: ResolvedBox, probe: StorageProbe, now: Date = new Date()): Promise<StorageHealthReport> {
  const targets: StorageTargetHealth[] = [];
  for (const storage of box.storage) {
    try {
      targets.push(await checkTarget(box, storage, probe));
    } catch (error) {
      targets.push({ storage: storage.name, type: storage.type, expectedIdentity: expectedIdentity(storage), ...affected(box, storage), condition: 'unavailable', detail: `could not be checked: ${(error as Error).message}` });
    }
  }
  return { checkedAt: now.toISOString(), targets, healthy: targets.every((target) => target.condition === 'ok') };
}

/** One actionable line per unhealthy target: what is wrong, what it affects, what to do. */
export function storageReportLines(report: StorageHealthReport): string[] {
  return report.targets.filter((target) => target.condition !== 'ok').map((target) => {
    const affects = [
      ...target.backupJobs.map((job) => `backup job ${job} (held until it is back)`),
      ...target.bulkVolumes.map((volume) => `bulk volume ${volume}`),
      ...target.rootfsGuests.map((guest) => `root filesystem of ${guest}`),
    ];
    const action = {
      undefined: 'apply the spec again (the storage definition is gone)',
      disabled: 'enable the storage on the host or publish a spec without it',
      unavailable: target.type === 'dir' ? 'reconnect and mount the disk' : 'check the network path to the server and its service',
      'identity-mismatch': 'attach the right disk or export, or re-attach deliberately with a new identity in the spec',
      ok: '',
    }[target.condition];
    return `storage ${target.storage} (${target.type}) ${target.condition}: ${target.detail}; affects ${affects.length ? affects.join(', ') : 'nothing yet'}; to do: ${action}`;
  });
}

/** A summary that changes only when some target's condition changes (the agent reports on change). */
export function storageSignature(report: StorageHealthReport): string {
  return report.targets.map((target) => `${target.storage}=${target.condition}`).join(',');
}

/**
 * Holds the backup jobs writing to an unhealthy target (disables them on the host) and lets go
 * of the ones this agent held whose target is healthy again. Returns the jobs it changed.
 */
export async function holdBackupJobs(report: StorageHealthReport, probe: StorageProbe, held: Set<string>): Promise<{ held: string[]; released: string[] }> {
  const changed = { held: [] as string[], released: [] as string[] };
  for (const target of report.targets) {
    for (const job of target.backupJobs) {
      if (target.condition !== 'ok') {
        if ((await probe.jobEnabled(job)) === true) {
          await probe.setJobEnabled(job, false);
          changed.held.push(job);
        }
        held.add(job);
      } else if (held.has(job)) {
        if ((await probe.jobEnabled(job)) === false) {
          await probe.setJobEnabled(job, true);
          changed.released.push(job);
        }
        held.delete(job);
      }
    }
  }
  return changed;
}

/** `findmnt` on the host: the UUID of the filesystem mounted exactly at `path`. */
export async function findmntIdentity(path: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('findmnt', ['--noheadings', '--output', 'UUID', '--mountpoint', path], { timeout: 10_000 });
    return stdout.trim() || undefined;
  } catch {
    return undefined; // findmnt exits 1 when nothing is mounted there
  }
}

/** A {@link StorageProbe} over the PVE API; the mounted disk's UUID comes from `mountIdentity` (findmnt on the host). */
export function pveStorageProbe(client: PveApiClient, node: string, mountIdentity: (path: string) => Promise<string | undefined> = findmntIdentity): StorageProbe {
  const notFound = (error: unknown) => error instanceof PveApiError && error.status === 500 && /does not exist/.test(error.message);
  return {
    async definition(storage) {
      try {
        return await client.get<Record<string, unknown>>(`/storage/${encodeURIComponent(storage)}`);
      } catch (error) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
    async status(storage) {
      const status = await client.get<{ enabled?: number; active?: number }>(`/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/status`);
      return { enabled: status.enabled !== 0, active: status.active === 1 };
    },
    mountIdentity,
    async jobEnabled(jobId) {
      try {
        const job = await client.get<{ enabled?: number | string }>(`/cluster/backup/${encodeURIComponent(jobId)}`);
        return String(job.enabled ?? '1') !== '0';
      } catch (error) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
    async setJobEnabled(jobId, enabled) {
      await client.put(`/cluster/backup/${encodeURIComponent(jobId)}`, { enabled });
    },
  };
}

export interface StorageCheckResult {
  readonly report: StorageHealthReport;
  readonly lines: readonly string[];
  /** Whether any target's condition differs from the last check (the first check counts as a change). */
  readonly changed: boolean;
  readonly held: readonly string[];
  readonly released: readonly string[];
}

/** The agent's per-cycle storage check: remembers the last conditions and the jobs it holds. */
export class StorageMonitor {
  readonly #probe: StorageProbe;
  readonly #held = new Set<string>();
  #last: string | undefined;
  constructor(probe: StorageProbe) {
    this.#probe = probe;
  }

  async check(box: ResolvedBox, now: Date = new Date()): Promise<StorageCheckResult> {
    const report = await checkStorageHealth(box, this.#probe, now);
    const jobs = await holdBackupJobs(report, this.#probe, this.#held);
    const signature = storageSignature(report);
    const changed = signature !== this.#last;
    this.#last = signature;
    return { report, lines: storageReportLines(report), changed, ...jobs };
  }

  /** Backup jobs held now because their target is not healthy. */
  heldJobs(): string[] {
    return [...this.#held].sort();
  }
}
