/**
 * apply: what a verified envelope asks for, carried out under the stack lock (held for the
 * agent's life, see open.ts), with `running` on disk before the engine starts. A spec is
 * deployed (runner/agent/deploy-spec.ts); a job goes to its kind's handler (runner/agent/jobs).
 *
 * An interrupted engine (stop, kill) or a `waiting` error stops the cycle and leaves the entry
 * `running`, to be recovered and retried; any other error is the envelope's failure, recorded by
 * the record step (a box-side failure with a retry schedule).
 */
import type { VerifiedEnvelope } from '../../envelope/index.js';
import { EngineCancelledError } from '../../engine/errors.js';
import type { BoxSpec } from '../../../stacks/spec/types.js';
import { StepFailure, type AgentContext } from '../context.js';
import { deploySpec } from '../deploy-spec.js';
import { errorKind, RestoreIncompleteError, toReason } from '../errors.js';
import { jobHandler, type JobResult } from '../jobs/index.js';
import { isBoxSideFailure, retryAfter } from '../retry.js';
import { untilOutcome } from './step.js';

export const applyStep = untilOutcome('apply', async (ctx, run) => {
  const verified = run.verified!;
  let entry = run.entry!;
  const started = performance.now();
  let result: JobResult;
  try {
    const resumed = entry.state === 'running';
    if (!resumed) entry = run.entry = await ctx.stores.journal.transition(entry.id, 'running');
    result = await dispatch(ctx, verified, resumed);
  } catch (error) {
    if (error instanceof EngineCancelledError || errorKind(error) === 'waiting') {
      // Left `running` on purpose: the next start recovers the stack and retries it.
      ctx.log.warn('engine operation interrupted; the job stays running and is retried', { digest: entry.id, ...toReason(error) });
      throw new StepFailure('apply', error);
    }
    // A restore that ran its up but left guests unrecovered still reports what the up changed.
    const counts = error instanceof RestoreIncompleteError ? error.counts : undefined;
    // A box-side failure (a secret not yet in place, a missing plugin) waits and is retried.
    const retry = isBoxSideFailure(error) ? retryAfter((entry.retry?.attempt ?? 0) + 1, ctx.now()) : undefined;
    run.outcome = { outcome: 'failed', error, durationMs: Math.round(performance.now() - started), ...(counts ? { counts } : {}), ...(retry ? { retry } : {}) };
    if (run.item?.source === 'spec') run.rememberEtag = run.item.etag;
    return;
  }
  run.outcome = { outcome: 'succeeded', durationMs: Math.round(performance.now() - started), ...result };
  if (run.item?.source === 'spec') run.rememberEtag = run.item.etag;
});

/** A spec envelope is deployed; a job envelope goes to its kind's handler. */
export async function dispatch(ctx: AgentContext, verified: VerifiedEnvelope, resumed: boolean): Promise<JobResult> {
  if (verified.header.type === 'spec') return deploySpec(ctx, verified.body as unknown as BoxSpec, resumed);
  const body = verified.body;
  return jobHandler(body.action)(ctx, { verified, body, resumed });
}
