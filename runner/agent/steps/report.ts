/**
 * report: the outbox's reports go to the hub, then the audit entries it lacks; a hub outage
 * leaves them queued for the next cycle (runner/agent/outbox.ts). A spec's ETag is kept last,
 * once its envelope is recorded.
 */
import type { EnvelopeRun } from '../context.js';
import { postPending } from '../outbox.js';
import type { Step } from './step.js';

export const reportStep: Step<EnvelopeRun> = {
  name: 'report',
  announce: 'report',
  when: (run) => run.result !== undefined,
  async run(ctx, run) {
    await postPending(ctx);
    await ctx.rememberSpecEtag(run.rememberEtag);
  },
};
