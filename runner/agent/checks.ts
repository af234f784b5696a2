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
