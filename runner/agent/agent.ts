/**
 * The agent: one cycle is an ordered list of steps (fluxcd's reconcilers are the model), each a
 * module in runner/agent/steps with one interface, run in order until the first error:
 *
 *   cycle:        recover → fetch → take
 *   per envelope: journal → verify → apply → record → audit → report
 *
 * apply deploys a spec (deploy-spec.ts) or hands a job to its kind's handler (jobs/index.ts,
 * one file per kind). Each step returns or throws a typed error; the first error stops the cycle
 * (or, for an envelope refused or failed for good, that envelope's apply, which then goes on to
 * record, audit and report). Errors say how to handle them: `stalled` (a person must look),
 * `waiting` (retry later with backoff), `generic`. docs/agent.md describes every step, the job
 * registry and the state dir.
 *
 * Durability order: the journal records a step before it starts; the report and audit record of
 * a finished envelope go into the outbox (agent.json) before its journal entry turns final; an
 * audit entry is appended only if the log does not already hold it. So a kill at any moment
 * loses nothing and repeats nothing a person would see twice.
 */
import type { AuditLog, Reason } from '../state/audit.js';
import type { BoxSpec, Tier } from '../../stacks/spec/types.js';
import { checkDrift, checkEscrowAccesses, checkStorage, type DriftResult } from './checks.js';
import { AgentContext, StepFailure, type AgentOptions, type CycleRun, type ItemResult, type StepName } from './context.js';
import { errorKind, StoppingError, toReason, type ErrorKind } from './errors.js';
import { tidy } from './outbox.js';
import { lastAppliedSpec } from './specs.js';
import { runSteps, type Step } from './steps/index.js';
import { fetchStep, takeStep } from './steps/fetch.js';
import { recoverStep } from './steps/recover.js';

export type {
  AgentEngineOptions,
  AgentHostOptions,
  AgentOptions,
  AgentRuntime,
  AgentSpecRules,
  AgentStores,
  BeforeStepHook,
  ItemOutcome,
  ItemResult,
  StepName,
} from './context.js';
export type { DriftResult } from './checks.js';
export { engineSummary } from './outbox.js';
export { MAX_ENVELOPES_PER_CYCLE } from './steps/fetch.js';
export { restoreSources } from './jobs/restore.js';

export interface CycleResult {
  /** `idle`: nothing new; `done`: envelopes processed; `waiting`/`stalled`/`failed`: the cycle stopped at an error. */
  readonly status: 'idle' | 'done' | 'waiting' | 'stalled' | 'failed';
  readonly items: readonly ItemResult[];
  /** Engine operations this cycle started. */
  readonly engineRuns: number;
  /** Envelopes (and changed answers) the hub served in this cycle's fetch: the daemon backs off when they brought only refusals. */
  readonly served: number;
  readonly error?: Reason & { readonly kind: ErrorKind; readonly step: StepName };
}

/** The cycle, in order. */
export const CYCLE_STEPS: readonly Step<CycleRun>[] = [recoverStep, fetchStep, takeStep];

export class Agent {
  readonly box: string;
  readonly tier: Tier;
  readonly #ctx: AgentContext;

  constructor(options: AgentOptions) {
    this.#ctx = new AgentContext(options);
    this.box = options.box;
    this.tier = options.tier;
  }

  /** Releases the stack lock; the agent must not be used afterwards. */
  async close(): Promise<void> {
    await this.#ctx.stores.lock?.release();
  }

  get stackName(): string {
    return this.#ctx.stackName;
  }

  /**
   * One cycle. `waitSeconds` > 0 long-polls the hub for changes; `retryNow` retries envelopes
   * waiting on a box-side fix before their backoff is over (a person ran `agent once`).
   */
  async cycle(options: { waitSeconds?: number; retryNow?: boolean } = {}): Promise<CycleResult> {
    const ctx = this.#ctx;
    const run: CycleRun = { waitSeconds: options.waitSeconds ?? 0, retryNow: options.retryNow === true, items: [] };
    const runsBefore = ctx.counters.engineRuns;
    ctx.counters.served = 0;
    const tidied = () => tidy(ctx).catch((error: unknown) => ctx.log.warn('tidying after the cycle failed', { ...toReason(error) }));
    try {
      await runSteps(ctx, CYCLE_STEPS, run);
    } catch (error) {
      // Every cycle step reports its failures under its name; a throw from elsewhere is the recover step's.
      const failure = error instanceof StepFailure ? error : new StepFailure('recover', error);
      const kind = errorKind(failure.error);
      const reason = toReason(failure.error);
      // A stop asked for (SIGTERM) is the normal end of a daemon, not a problem.
      const log = failure.error instanceof StoppingError ? ctx.log.info : kind === 'waiting' ? ctx.log.warn : ctx.log.error;
      log('cycle stopped', { step: failure.step, kind, ...reason });
      await tidied();
      return { status: kind === 'generic' ? 'failed' : kind, items: run.items, engineRuns: ctx.counters.engineRuns - runsBefore, served: ctx.counters.served, error: { ...reason, kind, step: failure.step } };
    }
    if (ctx.host.storageMonitor && this.tier === 'host') await checkStorage(ctx, ctx.host.storageMonitor);
    if (this.tier === 'host') await checkEscrowAccesses(ctx);
    await tidied();
    const worked = run.items.some((item) => item.outcome !== 'skipped');
    return { status: worked ? 'done' : 'idle', items: run.items, engineRuns: ctx.counters.engineRuns - runsBefore, served: ctx.counters.served };
  }

  /** refresh + preview of the last applied spec; reports drift counts, never corrects. */
  checkDrift(): Promise<DriftResult> {
    return checkDrift(this.#ctx);
  }

  /** The agent's audit log, the one writer of its file in this process (the local API appends to it too). */
  get audit(): AuditLog {
    return this.#ctx.stores.audit;
  }

  /** The spec last applied to this stack, or undefined before the first apply. */
  async appliedSpec(): Promise<BoxSpec | undefined> {
    if (!this.#ctx.stores.journal.lastApplied(this.box, this.tier)?.specDigest) return undefined;
    return lastAppliedSpec(this.#ctx);
  }

  /** The hub's audit head after the last upload, null when unknown. */
  auditHubHead(): { seq: number; hash: string } | null {
    return this.#ctx.stores.agent.data.auditHubHead ?? null;
  }

  /** When the last drift check ran, if ever. */
  lastDriftAt(): Date | undefined {
    const at = this.#ctx.stores.agent.data.lastDriftAt[this.#ctx.key];
    return at ? new Date(at) : undefined;
  }
}
