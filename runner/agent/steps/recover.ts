/**
 * recover: envelopes a previous run left unfinished (a crash, a held lock) go first, from their
 * archived envelopes, and those waiting on a box-side fix once their backoff is over; then the
 * outbox a previous run left is delivered.
 */
import type { JournalEntry } from '../../state/journal.js';
import type { AgentContext, CycleRun, ItemResult } from '../context.js';
import { workItem, type WorkItem } from '../envelope-item.js';
import { EnvelopeLostError } from '../errors.js';
import { deliver, finish } from '../outbox.js';
import { carriesSpec, processRestorePair } from '../restore-pair.js';
import { isDue } from '../retry.js';
import { processEnvelope } from './index.js';
import type { Step } from './step.js';

export const recoverStep: Step<CycleRun> = {
  name: 'recover',
  announce: 'recover',
  failsAs: 'recover',
  async run(ctx, cycle) {
    const now = ctx.now();
    const unfinished = ctx.stores.journal
      .unfinished()
      .filter((job) => job.box === ctx.box && job.tier === ctx.tier && (job.state !== 'waiting' || cycle.retryNow || isDue(job.retry, now)));
    for (let index = 0; index < unfinished.length; index += 1) {
      const entry = unfinished[index]!;
      const next = unfinished[index + 1];
      if (next && carriesSpec(ctx, entry, next)) {
        index += 1;
        const [specItem, jobItem] = await Promise.all([itemFor(ctx, entry), itemFor(ctx, next)]);
        if ('outcome' in specItem || 'outcome' in jobItem) {
          cycle.items.push('outcome' in specItem ? specItem : await processEnvelope(ctx, specItem), 'outcome' in jobItem ? jobItem : await processEnvelope(ctx, jobItem));
        } else cycle.items.push(...(await processRestorePair(ctx, specItem, jobItem)));
        continue;
      }
      const item = await itemFor(ctx, entry);
      cycle.items.push('outcome' in item ? item : await processEnvelope(ctx, item));
    }
    await deliver(ctx);
  },
};

/** An unfinished journal entry as a work item again, from its archived envelope (or its failure when the envelope is lost). */
export async function itemFor(ctx: AgentContext, entry: JournalEntry): Promise<WorkItem | ItemResult> {
  const envelope = await ctx.archive.get(entry.id);
  if (envelope === undefined) {
    const lost = new EnvelopeLostError(`envelope ${entry.id.slice(0, 12)} of the unfinished ${entry.action} job is not in the archive; it cannot be retried`);
    return finish(ctx, entry, null, { outcome: entry.state === 'running' || entry.state === 'verified' || entry.state === 'received' ? 'failed' : 'rejected', error: lost });
  }
  ctx.log.info('resuming an unfinished envelope', { digest: entry.id, state: entry.state, action: entry.action });
  return { ...workItem(entry.type, envelope, ctx.box, ctx.tier), header: entry };
}
