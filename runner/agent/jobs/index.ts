/**
 * The job registry: job kind (the signed body's `action`) → handler.
 *
 * A handler is called by the apply step (runner/agent/steps/apply.ts) for a verified job
 * envelope, after the journal entry is `running` on disk and under the stack lock:
 *
 *     (ctx: AgentContext, job: JobInput) => Promise<JobResult>
 *
 * - `ctx` (runner/agent/context.ts): the agent's options in groups (`stores`, `engine`, `spec`,
 *   `host`, `runtime`), the log, the envelope archive, the secrets and `ctx.now()`, the injected
 *   clock. Engine operations go through `engineOp` (runner/agent/engine-op.ts), spec deploys
 *   through `deploySpec` (runner/agent/deploy-spec.ts), the specs through runner/agent/specs.ts.
 * - `job.body`: the signed, verified body (runner/envelope/body.ts checked its shape); `job.verified`
 *   the whole verified envelope (signers, header, digest).
 * - `job.resumed`: the journal held the job as `running`, so an earlier run was killed during it.
 *   A handler makes a resumed run safe: it repeats an idempotent operation (the engine first
 *   recovers the stack), recognises one that already took effect, or refuses (restore).
 * - Returns the engine's change counts, if it ran one, and `appliedSpec` when a received spec
 *   became the applied one. Throws a typed error (runner/agent/errors.ts) to fail the job:
 *   `stalled` (a person must look), `waiting` (a box-side fix: retried with backoff), or an
 *   EngineCancelledError (the job stays `running` and is retried after a restart).
 *
 * A new job kind is one file here exporting its handler and one line in {@link JOB_HANDLERS};
 * the envelope format must know the action too (JOB_ACTIONS in runner/envelope/format.ts, and
 * its body's checks in runner/envelope/body.ts): test/runner/agent/jobs/index.test.ts checks
 * that the two lists agree.
 */
import type { VerifiedEnvelope } from '../../envelope/index.js';
import type { ChangeCounts } from '../../engine/run.js';
import type { AgentContext } from '../context.js';
import { UnsupportedJobError } from '../errors.js';
import { applyJob } from './apply.js';
import { decommissionJob, keyCustodyJob } from './custody-jobs.js';
import { destroyJob } from './destroy.js';
import { previewJob } from './preview.js';
import { refreshJob } from './refresh.js';
import { restoreJob } from './restore.js';
import { rollbackJob } from './rollback.js';
import { rotateKeysJob } from './rotate-keys.js';
import { snapshotJob } from './snapshot.js';

export interface JobInput {
  readonly verified: VerifiedEnvelope;
  /** The verified body: `action` and the job's parameters. */
  readonly body: Record<string, unknown>;
  /** An earlier run was killed during this job (its journal entry was `running`). */
  readonly resumed: boolean;
}

export interface JobResult {
  readonly counts?: ChangeCounts;
  /** A received spec (payload digest) this job applied: it becomes the last applied spec. */
  readonly appliedSpec?: string;
}

export type JobHandler = (ctx: AgentContext, job: JobInput) => Promise<JobResult>;

export const JOB_HANDLERS: ReadonlyMap<string, JobHandler> = new Map<string, JobHandler>([
  ['rotate-keys', rotateKeysJob],
  ['apply', applyJob],
  ['preview', previewJob],
  ['refresh', refreshJob],
  ['destroy', destroyJob],
  ['snapshot', snapshotJob],
  ['rollback', rollbackJob],
  ['restore', restoreJob],
  ['key-custody', keyCustodyJob],
  ['decommission', decommissionJob],
]);

/** The handler of `action`; UnsupportedJobError for an action no handler knows. */
export function jobHandler(action: unknown): JobHandler {
  const handler = typeof action === 'string' ? JOB_HANDLERS.get(action) : undefined;
  if (!handler) throw new UnsupportedJobError(`unknown job action ${JSON.stringify(action)}`);
  return handler;
}
