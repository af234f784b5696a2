/**
 * fetch: the desired spec and the pending jobs, conditional on what the box already holds (the
 * ETags in agent.json), both long polls at once. An envelope the journal holds as final is not
 * taken again; at most {@link MAX_ENVELOPES_PER_CYCLE} are taken, in serial order.
 *
 * take: the fetched envelopes, each through the envelope steps (a spec and the restore job
 * carrying it together, runner/agent/restore-pair.ts).
 */
import { HubError } from '../../hub/client.js';
import { FINAL_STATES } from '../../state/journal.js';
import type { AgentContext, CycleRun } from '../context.js';
import { workItem, type WorkItem } from '../envelope-item.js';
import { StoppingError } from '../errors.js';
import { carriesSpec, processRestorePair } from '../restore-pair.js';
import { processEnvelope } from './index.js';
import { isDone } from './journal.js';
import type { Step } from './step.js';

/** Envelopes taken from one fetch; the rest wait for the next cycle, so a flood of junk is paid for in backoff, not at once. */
export const MAX_ENVELOPES_PER_CYCLE = 16;

export const fetchStep: Step<CycleRun> = {
  name: 'fetch',
  announce: 'fetch',
  failsAs: 'fetch',
  async run(ctx, cycle) {
    cycle.fetched = await fetchEnvelopes(ctx, cycle.waitSeconds);
  },
};

export const takeStep: Step<CycleRun> = {
  name: 'take',
  failsAs: 'fetch',
  async run(ctx, cycle) {
    const fetched = cycle.fetched ?? [];
    for (let index = 0; index < fetched.length; index += 1) {
      const item = fetched[index]!;
      const next = fetched[index + 1];
      if (next && carriesSpec(ctx, item.header, next.header)) {
        index += 1;
        cycle.items.push(...(await processRestorePair(ctx, item, next)));
      } else cycle.items.push(await processEnvelope(ctx, item));
    }
  },
};

async function fetchEnvelopes(ctx: AgentContext, waitSeconds: number): Promise<WorkItem[]> {
  const { agent, journal } = ctx.stores;
  const stopSignal = ctx.runtime.stopSignal;
  const state = agent.data;
  const specEtag = state.specEtags[ctx.key];
  const jobEtag = state.jobEtags[ctx.key];
  const poll = waitSeconds > 0 ? new AbortController() : undefined;
  const signal = poll ? AbortSignal.any([poll.signal, ...(stopSignal ? [stopSignal] : [])]) : stopSignal;
  const aborted = Symbol('aborted');
  // Both long polls at once; the first that brings news ends the other.
  const guard = async <T>(request: Promise<T>, isNews: (value: T) => boolean): Promise<T | typeof aborted> => {
    try {
      const value = await request;
      if (isNews(value)) poll?.abort();
      return value;
    } catch (error) {
      // Our own abort (the other poll brought news, or the agent is stopping) is not a hub failure.
      if ((poll?.signal.aborted || ctx.stopping) && !(error instanceof HubError)) return aborted;
      throw error;
    }
  };
  const common = { ...(waitSeconds > 0 ? { waitSeconds } : {}), ...(signal ? { signal } : {}) };
  const [spec, jobs] = await Promise.all([
    guard(ctx.hub.fetchSpec(ctx.box, ctx.tier, { etag: specEtag ?? null, ...common }), (value) => value.status === 'changed'),
    guard(ctx.hub.fetchJobs(ctx.box, ctx.tier, { etag: jobEtag ?? null, ...common }), (value) => value.status === 'changed'),
  ]);
  if (ctx.stopping) throw new StoppingError('the agent is stopping');

  const items: WorkItem[] = [];
  if (spec !== aborted && spec.status === 'changed') {
    ctx.counters.served += 1;
    const item = workItem('spec', spec.envelope, ctx.box, ctx.tier, spec.etag);
    const lastApplied = journal.lastApplied(ctx.box, ctx.tier);
    // Already final, or the spec last applied: nothing to do, remember the ETag. One the
    // journal holds unfinished (waiting on a box-side fix) is the recover step's.
    const entry = journal.get(item.digest);
    if (isDone(journal, item) || lastApplied?.specDigest === item.digest) await ctx.rememberSpecEtag(spec.etag);
    else if (!entry || FINAL_STATES.includes(entry.state)) items.push(item);
  }
  let more = false;
  if (jobs !== aborted && jobs.status === 'changed') {
    // A changed job list counts even when empty: a hub claiming news that brings none is paced too.
    ctx.counters.served += Math.max(1, jobs.jobs.length);
    for (const job of jobs.jobs) {
      const item = workItem('job', job.envelope, ctx.box, ctx.tier);
      const entry = journal.get(item.digest);
      if (!entry || (FINAL_STATES.includes(entry.state) && !isDone(journal, item))) items.push(item);
    }
    // Serials are one sequence over specs and jobs: apply them in the order the operator issued them.
    items.sort((a, b) => a.header.serial - b.header.serial);
    more = items.length > MAX_ENVELOPES_PER_CYCLE;
    // The job list's ETag is kept only once every job in it was taken, so the rest come next cycle.
    if (!more) {
      await agent.update((data) => {
        data.jobEtags[ctx.key] = jobs.etag;
      });
    }
  }
  items.sort((a, b) => a.header.serial - b.header.serial);
  if (more) ctx.log.warn('more envelopes than one cycle takes; the rest come next cycle', { served: items.length, taken: MAX_ENVELOPES_PER_CYCLE });
  return items.slice(0, MAX_ENVELOPES_PER_CYCLE);
}
