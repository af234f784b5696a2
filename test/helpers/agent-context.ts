/**
 * An {@link AgentContext} for the agent's step and job tests, built on a real {@link agentWorld}
 * (a real hub, the box enrolled, a state dir, a trust store pinning alice): the real journal,
 * audit log, agent state and envelope archive in that state dir, the box spec validator and
 * resolver as `openAgent` plugs them in, and the real engine with the dynamic-provider test
 * program. Steps and handlers run on it one at a time, as the agent runs them.
 */
import type { Test } from 'tap';
import { HubClient } from '../../runner/hub/client.js';
import { AuditLog } from '../../runner/state/audit.js';
import { Journal, type JournalEntry } from '../../runner/state/journal.js';
import { formatEnvelope, parseEnvelope, type EnvelopeContent } from '../../runner/envelope/index.js';
import { AgentContext, type AgentOptions, type EnvelopeOutcome, type EnvelopeRun } from '../../runner/agent/context.js';
import { FelhomError } from '../../lib/errors.js';
import { workItem, type WorkItem } from '../../runner/agent/envelope-item.js';
import type { JobInput } from '../../runner/agent/jobs/index.js';
import { specRules } from '../../runner/agent/open.js';
import { verifyForBox } from '../../runner/agent/steps/verify.js';
import { loadOrCreateStackPassphrase, openAgentState, prepareStateDir } from '../../runner/agent/state-dir.js';
import type { Tier } from '../../stacks/spec/types.js';
import { agentWorld, BOX, engineRunner, type AgentWorld } from './agent-fixture.js';
import { testProgramFactory } from './agent-program.js';
import { document, signText } from './envelopes.js';
import { testKey } from './keys.js';

export interface ContextWorld {
  readonly world: AgentWorld;
  readonly ctx: AgentContext;
  readonly journal: Journal;
  readonly audit: AuditLog;
  /** Signs `content` (alice) and makes it a work item as the fetch step would. */
  item(content: Partial<EnvelopeContent> & { body: unknown }, source?: 'spec' | 'job'): Promise<WorkItem>;
  /** Journals, archives and marks `item` as succeeded: the spec it carries is the last applied one. */
  applied(item: WorkItem): Promise<JournalEntry>;
  /** A fresh envelope run for `item`, journaled (state `received`) and archived, as after the journal step. */
  received(item: WorkItem): Promise<EnvelopeRun>;
  /** A job signed with `body` and verified, as a job handler is handed it. */
  job(body: Record<string, unknown>, options?: { resumed?: boolean; serial?: number; alsoSignedBy?: readonly string[]; content?: Partial<EnvelopeContent> }): Promise<JobInput>;
}

/** `change` replaces option groups of the context (a clock, host operations, another tier ...). */
export async function contextWorld(t: Test, change: (options: AgentOptions) => AgentOptions = (options) => options, worldOptions: { tier?: Tier } = {}): Promise<ContextWorld> {
  const world = await agentWorld(t);
  const layout = await prepareStateDir(world.stateDir);
  const [journal, audit, agent] = await Promise.all([Journal.open(layout.root), AuditLog.open(AuditLog.fileIn(layout.root)), openAgentState(layout)]);
  const tier = worldOptions.tier ?? 'host';
  const options: AgentOptions = {
    box: BOX,
    tier,
    stores: { layout, trustPath: world.trustPath, journal, audit, agent },
    hub: new HubClient({ url: world.hub.hub.url, token: world.apiKey, timeoutMs: 10_000 }),
    engine: { engines: engineRunner(), passphrase: await loadOrCreateStackPassphrase(layout), programFor: testProgramFactory(world.outputDir, world.counter) },
    spec: await specRules(),
  };
  const ctx = new AgentContext(change(options));
  const item = async (content: Partial<EnvelopeContent> & { body: unknown }, source?: 'spec' | 'job') => {
    const envelope = await world.sign({ tier, ...content });
    return workItem(source ?? content.type ?? 'spec', envelope, BOX, tier);
  };
  const received = async (work: WorkItem): Promise<EnvelopeRun> => {
    await ctx.archive.put(work.digest, work.envelope);
    return { item: work, entry: await journal.receive(work.header) };
  };
  const applied = async (work: WorkItem) => {
    const { entry } = await received(work);
    await journal.transition(entry!.id, 'verified');
    await journal.transition(entry!.id, 'running');
    return journal.transition(entry!.id, 'succeeded');
  };
  const job = async (body: Record<string, unknown>, extra: { resumed?: boolean; serial?: number; alsoSignedBy?: readonly string[]; content?: Partial<EnvelopeContent> } = {}): Promise<JobInput> => {
    const work = await item({ type: 'job', serial: extra.serial ?? 50, ...extra.content, body });
    let envelope = work.envelope;
    if (extra.alsoSignedBy?.length) {
      const payload = parseEnvelope(envelope).payload;
      const more = await Promise.all(extra.alsoSignedBy.map(async (name) => signText(payload, await testKey(name))));
      envelope = formatEnvelope({ payload, signatures: [...document(envelope).signatures, ...more] });
    }
    const verified = await verifyForBox(ctx, envelope);
    return { verified, body: verified.body, resumed: extra.resumed === true };
  };
  return { world, ctx, journal, audit, item, applied, received, job };
}

/** A serial-2 `refresh` job that went through the steps up to the outcome given (`running` by default, or refused at `received`). */
export async function finishedRun(w: ContextWorld, outcome: EnvelopeOutcome, state: 'received' | 'running' = 'running'): Promise<EnvelopeRun> {
  const run = await w.received(await w.item({ type: 'job', serial: 2, body: { action: 'refresh' } }));
  if (state === 'running') {
    await w.journal.transition(run.entry!.id, 'verified');
    run.entry = await w.journal.transition(run.entry!.id, 'running');
  }
  return { ...run, verified: null, outcome };
}

/** The outcomes the record and report steps are tried with: the journal state each leaves and the report it makes. */
export const FINISHED_CASES: { name: string; outcome: EnvelopeOutcome; from?: 'received'; state: string; report: object }[] = [
  { name: 'a success', outcome: { outcome: 'succeeded', durationMs: 12, counts: { create: 1, update: 0, delete: 0, replace: 0, same: 3 } }, state: 'succeeded', report: { outcome: 'succeeded', serial: 2, durationMs: 12, engine: { created: 1, same: 3 } } },
  { name: 'a refusal', from: 'received', outcome: { outcome: 'rejected', error: new FelhomError('EEXPIRED', 'stalled', 'envelope expired') }, state: 'rejected', report: { outcome: 'rejected', reason: { code: 'EEXPIRED', message: 'envelope expired' } } },
  {
    name: 'a box-side failure waits with its schedule',
    outcome: { outcome: 'failed', error: new FelhomError('ESECRET', 'waiting', 'secret tunnel-token is missing'), retry: { attempt: 1, nextAt: '2030-01-01T00:00:00.000Z' } },
    state: 'waiting',
    report: { outcome: 'failed', reason: { code: 'ESECRET' } },
  },
];
