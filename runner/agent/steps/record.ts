/**
 * record: the envelope's report and audit record go into the outbox (agent.json), then its
 * journal entry turns final (`waiting` for a box-side failure). Never announced and never
 * skipped for a stop: an applied envelope is always recorded, so a restart repeats nothing.
 */
import type { EnvelopeRun } from '../context.js';
import { recordOutcome } from '../outbox.js';
import type { Step } from './step.js';

export const recordStep: Step<EnvelopeRun> = {
  name: 'record',
  when: (run) => run.outcome !== undefined,
  async run(ctx, run) {
    run.result = await recordOutcome(ctx, run.entry!, run.verified ?? null, run.outcome!);
  },
};
