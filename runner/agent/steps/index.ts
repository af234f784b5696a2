/**
 * The agent's steps. A cycle is one list, an envelope's path another; each step is a module
 * here with the {@link Step} interface (a context and a state in, the state filled in or a
 * throw out), and {@link runSteps} runs a list until the first error:
 *
 *   cycle:    recover → fetch → take
 *   envelope: journal → verify → apply → record → audit → report
 *
 * A step passes itself over when the state says it has nothing to do (a refused envelope skips
 * apply and goes to record), and stops the list when the rest has nothing to do (an envelope the
 * journal holds as final). docs/agent.md "Steps".
 */
import type { AgentContext, EnvelopeRun, ItemResult } from '../context.js';
import type { WorkItem } from '../envelope-item.js';
import { applyStep } from './apply.js';
import { auditStep } from './audit.js';
import { journalStep } from './journal.js';
import { recordStep } from './record.js';
import { reportStep } from './report.js';
import { runSteps, type Step } from './step.js';
import { verifyStep } from './verify.js';

export { runSteps, type Step } from './step.js';

/** The path of one envelope, in order. */
export const ENVELOPE_STEPS: readonly Step<EnvelopeRun>[] = [journalStep, verifyStep, applyStep, recordStep, auditStep, reportStep];

/** The steps that end an envelope whose outcome is known: record → audit → report. */
export const FINISH_STEPS: readonly Step<EnvelopeRun>[] = [recordStep, auditStep, reportStep];

/** The journal entry (or, before the journal step, the envelope's header) the hook is told about. */
export const envelopeSubject = (run: EnvelopeRun) => run.entry ?? run.item?.header;

/** Runs `steps` (by default the whole path) on one envelope and returns its result. */
export async function runEnvelope(ctx: AgentContext, run: EnvelopeRun, steps: readonly Step<EnvelopeRun>[] = ENVELOPE_STEPS): Promise<ItemResult> {
  await runSteps(ctx, steps, run, envelopeSubject);
  return run.result!;
}

/** journal → verify → apply → record → audit → report, for one envelope. */
export function processEnvelope(ctx: AgentContext, item: WorkItem): Promise<ItemResult> {
  return runEnvelope(ctx, { item });
}
