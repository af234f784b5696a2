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
import { formatEnvelope, parseEnvelope, type BodyValidator, type EnvelopeContent } from '../../runner/envelope/index.js';
import { AgentContext, type AgentOptions, type EnvelopeRun } from '../../runner/agent/context.js';
import { workItem, type WorkItem } from '../../runner/agent/envelope-item.js';
import type { JobInput } from '../../runner/agent/jobs/index.js';
import { verifyForBox } from '../../runner/agent/steps/verify.js';
import { loadOrCreateStackPassphrase, openAgentState, prepareStateDir } from '../../runner/agent/state-dir.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { resolveBox } from '../../stacks/spec/resolve.js';
import { validateBoxSpec } from '../../stacks/spec/validate.js';
import { loadGoldenTemplate } from '../../templates/lib/golden.js';
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
  const catalog = catalogLookup();
  const sizing = loadGoldenTemplate().sizing;
  const validateBody: BodyValidator = (body, type) => {
    if (type !== 'spec') return [];
    const result = validateBoxSpec(body, { catalog });
    return result.ok ? [] : result.problems.map((problem) => `${problem.path || '(root)'}: ${problem.message}`);
  };
  const tier = worldOptions.tier ?? 'host';
  const options: AgentOptions = {
    box: BOX,
    tier,
    stores: { layout, trustPath: world.trustPath, journal, audit, agent },
    hub: new HubClient({ url: world.hub.hub.url, token: world.apiKey, timeoutMs: 10_000 }),
    engine: { engines: engineRunner(), passphrase: await loadOrCreateStackPassphrase(layout), programFor: testProgramFactory(world.outputDir, world.counter) },
    spec: { resolve: (spec) => resolveBox(spec, catalog, sizing), validateBody },
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
