/**
 * The step interface and the loop that runs a list of steps (fluxcd's reconcilers are the model:
 * each step is a small function of a shared state; the loop runs them in order until the first
 * error, or until a step says the rest has nothing to do).
 */
import type { JobHeader } from '../../state/journal.js';
import { StepFailure, type AgentContext, type EnvelopeRun, type StepName } from '../context.js';

/**
 * One step. `run` reads what the steps before it left in `state`, adds its own part, and
 * returns `'stop'` when the steps after it have nothing to do (an envelope already final), or
 * nothing to go on. A throw ends the list: the error goes to the caller as it is (a step that
 * knows its error's step wraps it in a StepFailure itself).
 */
export interface Step<S> {
  readonly name: string;
  /**
   * The step announced before it runs: the before-step hook is called with it, and it is not
   * started once the agent is stopping. Unset for a step that must not be left half done (the
   * record step, which makes an applied envelope's journal entry final).
   */
  readonly announce?: StepName;
  /**
   * The step a failure here is reported under (CycleResult.error.step), when the error is not
   * already a StepFailure. @default - the enclosing list's (the error passes through as it is)
   */
  readonly failsAs?: StepName;
  /** Whether the step has work in this state; a step without is passed over, unannounced. @default - always */
  readonly when?: (state: S) => boolean;
  run(ctx: AgentContext, state: S): Promise<void | 'stop'>;
}

/** Runs `steps` in order on `state` until one stops the list or throws. */
export async function runSteps<S>(ctx: AgentContext, steps: readonly Step<S>[], state: S, subject?: (state: S) => Pick<JobHeader, 'id' | 'serial' | 'action'> | undefined): Promise<void> {
  for (const step of steps) {
    if (step.when && !step.when(state)) continue;
    if (step.announce) await ctx.enter(step.announce, subject?.(state));
    let next: void | 'stop';
    try {
      next = await step.run(ctx, state);
    } catch (error) {
      throw step.failsAs && !(error instanceof StepFailure) ? new StepFailure(step.failsAs, error) : error;
    }
    if (next === 'stop') return;
  }
}

/** An announced envelope step with work only while the envelope has no outcome yet (verify, apply). */
export function untilOutcome(name: 'verify' | 'apply', run: Step<EnvelopeRun>['run']): Step<EnvelopeRun> {
  return { name, announce: name, when: (state) => state.outcome === undefined, run };
}
