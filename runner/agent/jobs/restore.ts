/**
 * `restore` (restore mode, docs/architecture.md#restore-mode): list each source's backups, plan (the operator's `sources`
 * order, else fastest surviving first), `pct restore` + `pct start` per guest, then one `up` of
 * the spec in which the restored guests are adopted (`import`), not created. Guests no source
 * holds are created empty by that up, and the job fails with ERESTORE_INCOMPLETE naming them.
 *
 * A restore job on its own restores onto the last applied spec; one carrying the spec just before
 * it is run with that spec by runner/agent/restore-pair.ts. A restore is never repeated blindly.
 */
import type { ChangeCounts } from '../../engine/run.js';
import type { ResolvedBox } from '../../../stacks/spec/resolve.js';
import type { BoxSpec, StorageSpec } from '../../../stacks/spec/types.js';
import type { AgentContext } from '../context.js';
import { planRestore, runRestore, type HostOperations, type RestoreSource } from '../deploy.js';
import { engineOp } from '../engine-op.js';
import { AgentError, RestoreIncompleteError, RestoreInterruptedError, UnsupportedJobError } from '../errors.js';
import { lastAppliedSpec } from '../specs.js';
import type { JobHandler } from './index.js';

export const RESTORE_INTERRUPTED =
  'a restore was interrupted (the agent stopped during it) and is never repeated blindly: guests may be half restored; check them with pct list, then publish a new restore or apply job';

/** How far a restore got: set once its up applied the spec. */
export interface RestoreProgress {
  applied?: { counts?: ChangeCounts };
}

export const restoreJob: JobHandler = async (ctx, { body, resumed }) => {
  restoreOperations(ctx);
  if (resumed) throw new RestoreInterruptedError(RESTORE_INTERRUPTED);
  return restore(ctx, body, await lastAppliedSpec(ctx), {});
};

/** The host operations a restore needs; refused on other tiers and without them. */
export function restoreOperations(ctx: AgentContext): HostOperations {
  if (ctx.tier !== 'host') throw new UnsupportedJobError(`a restore job runs on the host tier only, not on ${ctx.tier}`);
  if (!ctx.host.operations) throw new UnsupportedJobError('a restore job needs Proxmox host operations, which this agent does not have');
  return ctx.host.operations;
}

/** The restore directive of `body`, onto `spec`; `progress` says whether its up ran, even when it then fails. */
export async function restore(ctx: AgentContext, body: Record<string, unknown>, spec: BoxSpec, progress: RestoreProgress): Promise<{ counts?: ChangeCounts }> {
  const ops = restoreOperations(ctx);
  const box = ctx.spec.resolve(spec);
  // On a bare host (new hardware: nothing applied yet) the backup storages do not exist, so
  // nothing could be listed or restored from them: attach the storage manifest first. On a
  // host that has applied a spec they exist already, and a partial up must not run there.
  if (!ctx.stores.journal.lastApplied(ctx.box, ctx.tier)) {
    await engineOp(ctx, 'up', spec, false, box, { storagesOnly: true });
    ctx.log.info('restore: storages attached on a bare host', { storages: box.storage.map((storage) => storage.name) });
  }
  const sources = await restoreSources(ops, box, body.sources);
  const plan = planRestore(box.guests, sources, box.host.rootStorage);
  const restores = plan.actions.filter((action) => action.kind === 'restore');
  ctx.log.info('restore planned', {
    restores: restores.map((action) => `${action.vmId} from ${action.from}`),
    unrecoverable: plan.unrecoverable,
    unavailable: sources.filter((source) => !source.available).map((source) => source.storage),
  });
  const adoptGuests = restores.map((action) => action.vmId);
  await runRestore(plan, {
    ops,
    up: async () => {
      progress.applied = { counts: (await engineOp(ctx, 'up', spec, false, box, { adoptGuests })).counts };
    },
  });
  if (plan.unrecoverable.length > 0) {
    const done = restores.length > 0 ? `restored guest(s) ${restores.map((action) => `${action.vmId} from ${action.from}`).join(', ')}` : 'restored no guest';
    const tried = sources.map((source) => (source.available ? source.storage : `${source.storage} (unavailable)`)).join(', ') || 'none';
    throw new RestoreIncompleteError(
      `restore incomplete: ${done}; no available source holds a backup of guest(s) ${plan.unrecoverable.join(', ')} (sources: ${tried}), so the spec's up created them empty`,
      plan.unrecoverable,
      progress.applied?.counts,
    );
  }
  return progress.applied?.counts ? { counts: progress.applied.counts } : {};
}

/**
 * The backup sources of a restore: the storages the job names (in that order, each must be in
 * the spec), else every storage of the spec with the `backup` role. Each is asked whether it is
 * available, and an available one for its backups.
 */
export async function restoreSources(ops: HostOperations, box: ResolvedBox, named: unknown): Promise<RestoreSource[]> {
  const byName = new Map(box.storage.map((storage) => [storage.name, storage]));
  let chosen: { storage: StorageSpec; preference?: number }[];
  if (Array.isArray(named)) {
    chosen = named.map((name, index) => {
      const storage = byName.get(String(name));
      if (!storage) throw new AgentError('ERESTORE_SOURCE', 'stalled', `body.sources[${index}]: ${JSON.stringify(name)} is not a storage of the spec (it has ${[...byName.keys()].join(', ')})`);
      return { storage, preference: index };
    });
  } else chosen = box.storage.filter((storage) => storage.roles.includes('backup')).map((storage) => ({ storage }));
  const sources: RestoreSource[] = [];
  for (const { storage, preference } of chosen) {
    const available = await ops.isAvailable(storage.name);
    sources.push({
      storage: storage.name,
      tier: storage.type === 'pbs' ? 'pbs' : 'local',
      class: storage.class,
      available,
      backups: available ? await ops.listBackups(storage.name) : [],
      ...(preference !== undefined ? { preference } : {}),
    });
  }
  return sources;
}
