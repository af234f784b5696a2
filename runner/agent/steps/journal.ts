/**
 * journal: the envelope is recorded as received before any of it is believed. An envelope the
 * journal holds as final needs nothing more (the list stops, `skipped`); one it holds unfinished
 * goes on from where it was.
 */
import { SIGNATURE_REFUSAL_CODES } from '../../envelope/index.js';
import { FINAL_STATES, type Journal, type JournalEntry } from '../../state/journal.js';
import type { EnvelopeRun } from '../context.js';
import type { WorkItem } from '../envelope-item.js';
import type { Step } from './step.js';

export const journalStep: Step<EnvelopeRun> = {
  name: 'journal',
  announce: 'journal',
  async run(ctx, run) {
    const item = run.item!;
    const journal = ctx.stores.journal;
    const entry = journal.get(item.digest);
    if (entry && FINAL_STATES.includes(entry.state)) {
      if (isDone(journal, item)) {
        run.result = { digest: item.digest, serial: item.header.serial, action: item.header.action, outcome: 'skipped' };
        return 'stop';
      }
      // Another copy of this payload was refused at the signature rules: that copy's entry
      // steps aside and this one is journaled, verified and audited on its own.
      const aside = await journal.setAsideRejected(entry.id);
      ctx.log.info('a differently signed copy of a refused envelope arrived; it is judged on its own', { digest: item.digest, refusedCopy: aside });
    } else if (entry) {
      run.entry = entry;
      return;
    }
    if (item.parsed) await ctx.archive.put(item.digest, item.envelope);
    run.entry = await journal.receive(item.header);
  },
};

/**
 * Whether this copy of an envelope needs nothing more: its payload is final in the journal,
 * unless it was refused at the signature rules as a *different* copy (other signatures), which
 * says nothing about this one (docs/agent.md "Copies of one envelope").
 */
export function isDone(journal: Journal, item: WorkItem): boolean {
  const entry = journal.get(item.digest);
  if (entry === undefined || !FINAL_STATES.includes(entry.state)) return false;
  if (!refusedAtSignatures(entry) || entry.copy === undefined || entry.copy === item.copy) return true;
  // Judged before under a set-aside id: the same copy again changes nothing.
  return journal.get(`${item.digest}#${item.copy.slice(0, 16)}`) !== undefined;
}

function refusedAtSignatures(entry: JournalEntry): boolean {
  return entry.state === 'rejected' && entry.reason !== undefined && SIGNATURE_REFUSAL_CODES.has(entry.reason.code);
}
