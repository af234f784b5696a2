/**
 * Snapshot-before-deploy, rollback on a failed health check, and restore mode (docs/architecture.md#snapshot-before-deploy, #restore-mode;
 * docs/agent.md). The decisions are pure functions returning ordered actions; {@link runDeploy}
 * carries a plan out through a {@link HostOperations} (Proxmox's own CLI on a box, a recording
 * double in tests) and the engine callbacks the agent gives it.
 */
import { HealthCheckError, RestoreStepError } from './errors.js';

/** What the agent does to guests on the Proxmox host, in Proxmox's words. */
export interface HostOperations {
  /** `pct snapshot <vmid> <name>`: a transient LVM-thin snapshot, not a backup. */
  snapshot(vmId: number, name: string): Promise<void>;
  /** `pct rollback <vmid> <name>` then start: the whole guest returns to the snapshot. */
  rollback(vmId: number, name: string): Promise<void>;
  /** `pct delsnapshot <vmid> <name>`. */
  deleteSnapshot(vmId: number, name: string): Promise<void>;
  /** Whether the guest is running and answers inside (`pct status`, `pct exec <vmid> -- true`). */
  healthCheck(vmId: number): Promise<{ healthy: boolean; detail: string }>;
  /** `pct restore <vmid> <archive> --storage <storage> --unique 1`: a new MAC, the rest from the backup. */
  restore(vmId: number, archive: string, options: { storage: string }): Promise<void>;
  /** `pct start <vmid>`. */
  start(vmId: number): Promise<void>;
  /** Whether the storage is defined on the host and active now (`pvesm status --storage <storage>`). */
  isAvailable(storage: string): Promise<boolean>;
  /** The vzdump backups a storage holds (`pvesh get /nodes/<node>/storage/<storage>/content --content backup`). */
  listBackups(storage: string): Promise<BackupVolume[]>;
  /** Whether the guest exists on the host (a guest the deploy will create has nothing to snapshot). @default - assumed to exist */
  guestExists?(vmId: number): Promise<boolean>;
}

/** The guests of `vmIds` that exist on the host now: the ones a snapshot-before-deploy can snapshot. */
export async function existingGuests(ops: HostOperations | undefined, vmIds: readonly number[]): Promise<number[]> {
  if (!ops?.guestExists) return [...vmIds];
  const exists = await Promise.all(vmIds.map((vmId) => ops.guestExists!(vmId)));
  return vmIds.filter((_, index) => exists[index]);
}

/** One backup archive on a storage, as Proxmox lists it. */
export interface BackupVolume {
  /** The volume id `pct restore` takes (`nas-backup:backup/vzdump-lxc-200-….tar.zst`, `offsite:backup/ct/200/…`). */
  readonly volid: string;
  readonly vmId: number;
  /** Creation time, epoch seconds. */
  readonly ctime: number;
}

export type DeployAction =
  | { readonly kind: 'snapshot'; readonly vmId: number; readonly name: string }
  | { readonly kind: 'up' }
  | { readonly kind: 'health-check'; readonly vmId: number }
  | { readonly kind: 'delete-snapshot'; readonly vmId: number; readonly name: string }
  | { readonly kind: 'rollback'; readonly vmId: number; readonly name: string }
  | { readonly kind: 'refresh' };

export interface DeployPlan {
  /** Before the engine: one snapshot per guest. */
  readonly before: readonly DeployAction[];
  readonly apply: readonly DeployAction[];
  readonly checks: readonly DeployAction[];
  /** After healthy checks: the transient snapshots go. */
  readonly keep: readonly DeployAction[];
  /** After a failed check: every guest back to its snapshot, then a refresh so the state follows. */
  readonly rollback: readonly DeployAction[];
}

export interface DeployInput {
  /** The spec's `backup.snapshotBeforeDeploy`. */
  readonly snapshotBeforeDeploy: boolean;
  /** The guests this tier manages (host tier); empty for edge and guest tiers. */
  readonly guests: readonly { readonly name: string; readonly vmId: number }[];
  /** Whether the agent can act on the Proxmox host. */
  readonly hostOperations: boolean;
  readonly snapshotName: string;
  /** The guests that exist before the deploy (only they are snapshotted). @default - every guest */
  readonly existing?: readonly number[];
}

/**
 * snapshot (each guest) → up → health check (each guest) → keep (delete snapshots) or roll back
 * (each guest, then refresh). Without host operations, or with snapshots turned off and no
 * guests to check, the plan is just `up`.
 */
export function planDeploy(input: DeployInput): DeployPlan {
  const guests = input.hostOperations ? [...input.guests].sort((a, b) => a.vmId - b.vmId) : [];
  const snapshots = input.snapshotBeforeDeploy ? guests.filter((guest) => input.existing === undefined || input.existing.includes(guest.vmId)) : [];
  return {
    before: snapshots.map((guest) => ({ kind: 'snapshot', vmId: guest.vmId, name: input.snapshotName })),
    apply: [{ kind: 'up' }],
    checks: guests.map((guest) => ({ kind: 'health-check', vmId: guest.vmId })),
    keep: snapshots.map((guest) => ({ kind: 'delete-snapshot', vmId: guest.vmId, name: input.snapshotName })),
    rollback: snapshots.length > 0 ? [...snapshots.map((guest) => ({ kind: 'rollback' as const, vmId: guest.vmId, name: input.snapshotName })), { kind: 'refresh' as const }] : [],
  };
}

export interface DeployRuntime {
  readonly ops?: HostOperations;
  readonly up: () => Promise<void>;
  readonly refresh: () => Promise<void>;
}

export interface DeployOutcome {
  readonly healthy: boolean;
  readonly rolledBack: boolean;
  /** Every action taken, in order. */
  readonly actions: readonly DeployAction[];
}

/**
 * Carries out a plan. A failed `up` keeps the snapshots (the engine's state and the guest would
 * disagree after an automatic rollback; a person decides, with a signed rollback job). A failed
 * health check rolls back and throws {@link HealthCheckError} so the job is reported failed.
 */
export async function runDeploy(plan: DeployPlan, runtime: DeployRuntime): Promise<DeployOutcome> {
  const taken: DeployAction[] = [];
  const act = async (action: DeployAction): Promise<{ healthy: boolean; detail: string } | undefined> => {
    taken.push(action);
    const ops = runtime.ops;
    switch (action.kind) {
      case 'up':
        return void (await runtime.up());
      case 'refresh':
        return void (await runtime.refresh());
      case 'snapshot':
        return void (await ops!.snapshot(action.vmId, action.name));
      case 'delete-snapshot':
        return void (await ops!.deleteSnapshot(action.vmId, action.name));
      case 'rollback':
        return void (await ops!.rollback(action.vmId, action.name));
      case 'health-check':
        return ops!.healthCheck(action.vmId);
    }
  };
  for (const action of [...plan.before, ...plan.apply]) await act(action);
  const unhealthy: string[] = [];
  for (const action of plan.checks) {
    const result = await act(action);
    if (result && !result.healthy) unhealthy.push(`guest ${(action as { vmId: number }).vmId}: ${result.detail}`);
  }
  if (unhealthy.length === 0) {
    for (const action of plan.keep) await act(action);
    return { healthy: true, rolledBack: false, actions: taken };
  }
  for (const action of plan.rollback) await act(action);
  const rolledBack = plan.rollback.length > 0;
  throw new HealthCheckError(`health check failed after deploy (${unhealthy.join('; ')})${rolledBack ? '; guests rolled back to their pre-deploy snapshot' : '; no snapshot to roll back to'}`);
}

// ---- restore mode ------------------------------------------------------------------------------

/** A backup source as the storage manifest and the agent's reachability checks see it. */
export interface RestoreSource {
  readonly storage: string;
  /** `local` (dir/nfs/cifs second storage) or `pbs` (offsite). */
  readonly tier: 'local' | 'pbs';
  readonly class: 'fast' | 'slow';
  /** Attached and reachable now. */
  readonly available: boolean;
  /** Backup archives on it: volume id, guest, creation time (epoch seconds). */
  readonly backups: readonly BackupVolume[];
  /**
   * Position in the operator's list (a restore job's `sources`): a named order comes before the
   * speed order. @default - unranked: fastest first
   */
  readonly preference?: number;
}

export type RestoreAction =
  | { readonly kind: 'restore'; readonly vmId: number; readonly archive: string; readonly from: string; readonly storage: string }
  | { readonly kind: 'start'; readonly vmId: number }
  | { readonly kind: 'up' };

export interface RestorePlan {
  readonly actions: readonly RestoreAction[];
  /** Guests no surviving source holds a backup of: they are provisioned clean, and the report says so. */
  readonly unrecoverable: readonly number[];
}

const SOURCE_ORDER = (source: RestoreSource) => (source.tier === 'local' ? 0 : 2) + (source.class === 'fast' ? 0 : 1);
const PREFERENCE = (source: RestoreSource) => source.preference ?? Number.MAX_SAFE_INTEGER;

/**
 * The restore directive (docs/architecture.md#restore-mode): provisioning plus a restore from the fastest surviving tier.
 * Per guest: the newest backup on the first available source holding one: the operator's order
 * when the job names sources, else fastest first (local before PBS, fast before slow); restore it onto the root storage with a fresh identity, start it, then `up` provisions
 * everything else the spec names (storages, backup jobs, the tunnel connector).
 */
export function planRestore(guests: readonly { readonly vmId: number }[], sources: readonly RestoreSource[], rootStorage: string): RestorePlan {
  const ordered = sources.filter((source) => source.available).sort((a, b) => PREFERENCE(a) - PREFERENCE(b) || SOURCE_ORDER(a) - SOURCE_ORDER(b) || a.storage.localeCompare(b.storage));
  const actions: RestoreAction[] = [];
  const unrecoverable: number[] = [];
  for (const guest of [...guests].sort((a, b) => a.vmId - b.vmId)) {
    const found = ordered
      .map((source) => ({ source, newest: source.backups.filter((backup) => backup.vmId === guest.vmId).sort((a, b) => b.ctime - a.ctime)[0] }))
      .find((candidate) => candidate.newest !== undefined);
    if (!found?.newest) {
      unrecoverable.push(guest.vmId);
      continue;
    }
    actions.push({ kind: 'restore', vmId: guest.vmId, archive: found.newest.volid, from: found.source.storage, storage: rootStorage });
    actions.push({ kind: 'start', vmId: guest.vmId });
  }
  actions.push({ kind: 'up' });
  return { actions, unrecoverable };
}

/**
 * Carries out a restore plan, in order. The first failure stops it: the guests restored before
 * are listed in the thrown {@link RestoreStepError}, so a report never hides a half-done restore.
 */
export async function runRestore(plan: RestorePlan, runtime: { ops: HostOperations; up: () => Promise<void> }): Promise<{ restored: number[] }> {
  const restored: number[] = [];
  for (const action of plan.actions) {
    try {
      if (action.kind === 'restore') await runtime.ops.restore(action.vmId, action.archive, { storage: action.storage });
      else if (action.kind === 'start') await runtime.ops.start(action.vmId);
      else await runtime.up();
    } catch (error) {
      throw new RestoreStepError(action, restored, error);
    }
    if (action.kind === 'restore') restored.push(action.vmId);
  }
  return { restored };
}
