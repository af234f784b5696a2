/** audit: each outbox record's audit entry is appended to the local hash-chained log, once (runner/agent/outbox.ts). */
import type { EnvelopeRun } from '../context.js';
import { appendPendingAudit } from '../outbox.js';
import type { Step } from './step.js';

export const auditStep: Step<EnvelopeRun> = {
  name: 'audit',
  announce: 'audit',
  when: (run) => run.result !== undefined,
  async run(ctx) {
    await appendPendingAudit(ctx);
  },
};
