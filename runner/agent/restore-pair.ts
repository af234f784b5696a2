/**
 * Restore mode (docs/architecture.md#restore-mode): on the host tier a spec issued with a restore directive (the restore
 * job just after it, in the same batch) is provisioned BY the restore, never on its own first
 * (that would be a clean provision, creating empty guests where backups belong).
 *
 * Both envelopes go through the journal step before either is believed, both through the verify
 * step, then one apply restores the guests and applies the spec; each is then recorded, audited
 * and reported. The spec finishes first, so it becomes the last applied spec when the up succeeded.
 */
import type { JobHeader } from '../state/journal.js';
import type { BoxSpec } from '../../stacks/spec/types.js';
import type { AgentContext, EnvelopeRun, ItemResult } from './context.js';
import type { WorkItem } from './envelope-item.js';
import { AgentError, RestoreInterruptedError } from './errors.js';
import { RESTORE_INTERRUPTED, restore, type RestoreProgress } from './jobs/restore.js';
import { finish } from './outbox.js';
import { applyStep } from './steps/apply.js';
import { envelopeSubject, FINISH_STEPS, processEnvelope, runEnvelope, runSteps } from './steps/index.js';
import { journalStep } from './steps/journal.js';
import { verifyStep } from './steps/verify.js';

/** Whether `job` is a restore job carrying the spec just before it. */
export function carriesSpec(ctx: AgentContext, spec: Pick<JobHeader, 'type' | 'serial'>, job: Pick<JobHeader, 'type' | 'action' | 'serial'>): boolean {
  return ctx.tier === 'host' && spec.type === 'spec' && job.type === 'job' && job.action === 'restore' && job.serial > spec.serial;
}

/** verify, and for a refused envelope record → audit → report: its result, or undefined when it was admitted. */
async function admit(ctx: AgentContext, run: EnvelopeRun): Promise<ItemResult | undefined> {
  await runSteps(ctx, [verifyStep], run, envelopeSubject);
  return run.outcome ? runEnvelope(ctx, run, FINISH_STEPS) : undefined;
}

export async function processRestorePair(ctx: AgentContext, specItem: WorkItem, jobItem: WorkItem): Promise<ItemResult[]> {
  const spec: EnvelopeRun = { item: specItem };
  const job: EnvelopeRun = { item: jobItem };
  await runSteps(ctx, [journalStep], spec, envelopeSubject);
  await runSteps(ctx, [journalStep], job, envelopeSubject);
  if (spec.result || job.result) {
    // One of them finished earlier: nothing is carried, each goes its own way.
    return [spec.result ?? (await processEnvelope(ctx, specItem)), job.result ?? (await processEnvelope(ctx, jobItem))];
  }
  const interrupted = spec.entry!.state === 'running' || job.entry!.state === 'running';
  const specRefused = await admit(ctx, spec);
  const jobRefused = await admit(ctx, job);
  // A refused spec: the restore, if admitted, falls back to the last applied spec (ENO_SPEC on a new box).
  if (specRefused) return [specRefused, jobRefused ?? (await runEnvelope(ctx, job, [applyStep, ...FINISH_STEPS]))];
  if (jobRefused) {
    const refused = new AgentError('ERESTORE_REFUSED', 'stalled', `this spec was issued with restore job ${jobRefused.digest.slice(0, 12)}, which was refused (${jobRefused.reason?.code}); it was not applied on its own: publish both again`);
    const failed = await finish(ctx, spec.entry!, spec.verified!, { outcome: 'failed', error: refused });
    await ctx.rememberSpecEtag(specItem.etag);
    return [failed, jobRefused];
  }
  if (interrupted) {
    const error = new RestoreInterruptedError(RESTORE_INTERRUPTED);
    const results = [await finish(ctx, spec.entry!, spec.verified!, { outcome: 'failed', error }), await finish(ctx, job.entry!, job.verified!, { outcome: 'failed', error })];
    await ctx.rememberSpecEtag(specItem.etag);
    return results;
  }

  await ctx.enter('apply', jobItem.header);
  // `running` is on disk for both before the first pct call.
  const specEntry = await ctx.stores.journal.transition(spec.entry!.id, 'running');
  const jobEntry = await ctx.stores.journal.transition(job.entry!.id, 'running');
  const progress: RestoreProgress = {};
  const started = performance.now();
  let failure: unknown;
  try {
    await restore(ctx, job.verified!.body, spec.verified!.body as unknown as BoxSpec, progress);
  } catch (error) {
    failure = error;
  }
  const durationMs = Math.round(performance.now() - started);
  const counts = progress.applied?.counts;
  const specResult = progress.applied
    ? await finish(ctx, specEntry, spec.verified!, { outcome: 'succeeded', durationMs, ...(counts ? { counts } : {}) })
    : await finish(ctx, specEntry, spec.verified!, { outcome: 'failed', error: failure, durationMs });
  await ctx.rememberSpecEtag(specItem.etag);
  const jobResult = await finish(ctx, jobEntry, job.verified!, { outcome: failure === undefined ? 'succeeded' : 'failed', error: failure, durationMs, ...(counts ? { counts } : {}) });
  return [specResult, jobResult];
}
