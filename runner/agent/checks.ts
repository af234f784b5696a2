/**
 * The agent's own checks, not asked for by any envelope: drift (refresh + preview of the last
 * applied spec, reported, never corrected) and, on the host tier, storage health after a cycle.
 * Each result goes through the outbox like an envelope's (runner/agent/outbox.ts).
 */
import type { ChangeCounts } from '../engine/run.js';
import type { AgentContext } from './context.js';
import { engineOp } from './engine-op.js';
import { toReason } from './errors.js';
import { deliver, engineSummary } from './outbox.js';
import { lastAppliedSpec } from './specs.js';
import type { StorageMonitor } from './storage-health.js';
import { readCustodyState, syncEscrowAccesses } from '../custody/custody.js';
import type { EscrowAccess } from '../hub/protocol.js';

export interface DriftResult {
  readonly status: 'checked' | 'no-spec';
  readonly counts?: ChangeCounts;
  readonly drifted: boolean;
}

/** refresh + preview of the last applied spec; reports drift counts, never corrects. */
export async function checkDrift(ctx: AgentContext): Promise<DriftResult> {
  await ctx.enter('drift');
  const applied = ctx.stores.journal.lastApplied(ctx.box, ctx.tier);
  if (!applied?.specDigest) return { status: 'no-spec', drifted: false };
  const spec = await lastAppliedSpec(ctx);
  const started = performance.now();
  await engineOp(ctx, 'refresh', spec, false);
  const counts = (await engineOp(ctx, 'preview', spec, false)).counts;
  const drifted = counts.create + counts.update + counts.delete + counts.replace > 0;
  const at = ctx.now().toISOString();
  ctx.log[drifted ? 'warn' : 'info']('drift check', { ...counts, drifted });
  await ctx.stores.agent.update((data) => {
    data.lastDriftAt[ctx.key] = at;
    data.outbox.push({
      report: { box: ctx.box, jobId: `drift-${ctx.stackName}-${at}`, tier: ctx.tier, outcome: 'succeeded', engine: engineSummary(counts), durationMs: Math.round(performance.now() - started) },
      audit: { actor: 'agent', action: 'drift.check', box: ctx.box, tier: ctx.tier, envelopeDigest: null, outcome: 'succeeded', ...(drifted ? { reason: { code: 'EDRIFT', message: `${counts.create + counts.update + counts.delete + counts.replace} resource(s) drifted from the applied spec` } } : {}) },
      audited: false,
    });
  });
  await deliver(ctx);
  return { status: 'checked', counts, drifted };
}

/** Storage health of the applied spec's manifest; reported when a target's condition changes. */
export async function checkStorage(ctx: AgentContext, monitor: StorageMonitor): Promise<void> {
  if (!ctx.stores.journal.lastApplied(ctx.box, ctx.tier)?.specDigest) return;
  try {
    const result = await monitor.check(ctx.spec.resolve(await lastAppliedSpec(ctx)), ctx.now());
    if (result.held.length || result.released.length) ctx.log.warn('backup jobs held for their storage', { held: result.held, released: result.released });
    if (!result.changed) return;
    const at = ctx.now().toISOString();
    const reason = result.report.healthy ? undefined : { code: 'ESTORAGE', message: result.lines.join(' | ') };
    ctx.log[reason ? 'warn' : 'info']('storage check', { healthy: result.report.healthy, ...(reason ? { problems: result.lines.length } : {}) });
    await ctx.stores.agent.update((data) => {
      data.outbox.push({
        report: { box: ctx.box, jobId: `storage-${ctx.stackName}-${at}`, tier: ctx.tier, outcome: reason ? 'failed' : 'succeeded', ...(reason ? { reason } : {}) },
        audit: { actor: 'agent', action: 'storage.check', box: ctx.box, tier: ctx.tier, envelopeDigest: null, outcome: reason ? 'failed' : 'succeeded', ...(reason ? { reason } : {}) },
        audited: false,
      });
    });
    await deliver(ctx);
  } catch (error) {
    // A storage check that cannot run is itself news, but must not stop the cycle's own work.
    ctx.log.warn('storage check failed', { ...toReason(error) });
  }
}

/**
 * On the host tier, after a cycle: the hub's record of accesses to the box's escrowed key goes
 * into the audit log (the customer's view of it, docs/key-custody.md), and an access by an
 * operator is logged as a warning, the customer's notification. Nothing to do for a box with no
 * key yet or under customer-only custody; a hub that cannot answer is logged and tried again next
 * cycle (the count of accesses already copied is kept, so none is copied twice or lost).
 */
export async function checkEscrowAccesses(ctx: AgentContext): Promise<EscrowAccess[]> {
  const state = await readCustodyState(ctx.stores.layout.root);
  if (!state || state.custody === 'customer-only') return [];
  try {
    const fresh = await syncEscrowAccesses({ stateDir: ctx.stores.layout.root, box: ctx.box, audit: ctx.stores.audit, hub: ctx.hub });
    for (const access of fresh) ctx.log.warn('an operator accessed the escrowed backup key', { by: access.by, action: access.action, at: access.at });
    return fresh;
  } catch (error) {
    ctx.log.warn('escrow accesses not checked', { code: (error as { code?: string }).code ?? 'EINTERNAL', message: (error as Error).message });
    return [];
  }
}
