// Every way an envelope is refused reaches the hub as a report naming its reason, lands in the
// journal and the audit log, and never starts the engine. Wrong box, wrong tier, replay and
// rollback need a hub that serves what it should not (a compromised hub): they are injected
// straight into the hub's job list, bypassing its serial check.
import t from 'tap';
import { join } from 'node:path';
import type { EnvelopeContent } from '../../../runner/envelope/index.js';
import { verifyAuditLog } from '../../../runner/state/audit.js';
import { Journal } from '../../../runner/state/journal.js';
import { agentWorld, boxSpec, BOX, type AgentWorld } from '../../helpers/agent-fixture.js';
import { withDocument } from '../../helpers/envelopes.js';
import { testKey } from '../../helpers/keys.js';
import { signed } from '../../helpers/envelopes.js';

/** What a compromised hub does: serves `envelope` to box-1/host whatever it says. */
const inject = (world: AgentWorld, envelope: string, serial: number): Promise<void> => world.inject(envelope, serial);

const HOUR = 3600_000;
const job = (overrides: Partial<EnvelopeContent> = {}): Partial<EnvelopeContent> & { body: Record<string, unknown> } => ({ type: 'job', serial: 10, body: { action: 'preview' }, ...overrides });

interface Case {
  readonly name: string;
  readonly reason: string;
  readonly code: string;
  /** Publishes (or injects) the bad envelope. */
  readonly send: (world: AgentWorld) => Promise<void>;
  /** Gives the box a last applied serial first. */
  readonly applied?: boolean;
}

const cases: Case[] = [
  { name: 'signed by an unknown key', reason: 'unknown-key', code: 'EUNKNOWNKEY', send: async (w) => void (await w.publish(job(), 'mallory')) },
  {
    name: 'tampered after signing',
    reason: 'tampered',
    code: 'ETAMPERED',
    send: async (w) => {
      const text = await w.sign(job());
      const tampered = withDocument(text, (doc) => ({ ...doc, payload: doc.payload.replace('"preview"', '"refresh"') }));
      await w.hub.operator.publish(tampered);
    },
  },
  { name: 'for another box', reason: 'wrong-box', code: 'EWRONGBOX', send: async (w) => inject(w, await w.sign(job({ box: 'box-2' })), 10) },
  { name: 'for another tier', reason: 'wrong-tier', code: 'EWRONGTIER', send: async (w) => inject(w, await w.sign(job({ tier: 'guest' })), 10) },
  { name: 'a replay of the applied serial', reason: 'replay', code: 'EREPLAY', applied: true, send: async (w) => inject(w, await w.sign(job({ serial: 5, body: { action: 'refresh' } })), 5) },
  { name: 'older than the applied serial', reason: 'rollback', code: 'EROLLBACK', applied: true, send: async (w) => inject(w, await w.sign(job({ serial: 3 })), 3) },
  {
    name: 'expired',
    reason: 'expired',
    code: 'EEXPIRED',
    send: async (w) => void (await w.publish(job({ issuedAt: new Date(Date.now() - 48 * HOUR), expiresAt: new Date(Date.now() - 24 * HOUR) }))),
  },
  {
    name: 'a spec that does not validate',
    reason: 'invalid-body',
    code: 'EINVALIDBODY',
    send: async (w) => void (await w.publish({ type: 'spec', serial: 10, body: boxSpec((spec) => void ((spec.spec.guests[0] as { cores: number }).cores = -2)) as never })),
  },
];

for (const c of cases) {
  t.test(`an envelope ${c.name} is rejected as ${c.reason}, reported and audited, and no engine runs`, async (t) => {
    const world = await agentWorld(t);
    const agent = await world.agent();
    if (c.applied) {
      // given serial 5 applied (a key rotation to the same key: no engine needed)
      const alice = await testKey('alice');
      await world.publish({ type: 'job', serial: 5, body: { action: 'rotate-keys', threshold: 1, keys: [alice.publicArmored] } });
      t.match((await agent.cycle()).items, [{ outcome: 'succeeded' }], 'serial 5 applied');
    }
    await c.send(world);

    const result = await agent.cycle();

    t.match(result.items.at(-1), { outcome: 'rejected', reason: { code: c.code } }, `rejected with ${c.code}`);
    t.equal(world.counter.invocations, 0, 'the engine never ran');
    const reports = await world.hub.operator.listReports({ box: BOX });
    t.match(reports[0], { outcome: 'rejected', reason: { code: c.code } }, 'the hub got a report naming the reason');
    const journal = await Journal.open(world.stateDir);
    t.match(journal.get(result.items.at(-1)!.digest), { state: 'rejected', reason: { code: c.code } }, 'the journal says rejected and why');
    const audit = await verifyAuditLog(join(world.stateDir, 'audit.jsonl'));
    t.ok(audit.ok, 'the audit chain verifies');
    t.match(audit.entries.at(-1), { outcome: 'rejected', actor: 'unverified', reason: { code: c.code } }, 'the audit log records the rejection');

    // when the agent cycles again, then the rejected envelope is not processed or reported twice
    const again = await agent.cycle();
    t.equal(again.engineRuns, 0, 'no engine run');
    t.equal((await world.hub.operator.listReports({ box: BOX })).length, reports.length, 'no duplicate report');
  });
}

t.test('an envelope that is not even JSON is rejected as malformed', async (t) => {
  const world = await agentWorld(t);
  await inject(world, await signed([await testKey('alice')]), 10); // box-1 job, valid: the baseline
  const streams = world.hub.hub.database.data.streams as Record<string, { jobs: { envelope: string; payloadDigest: string }[] }>;
  streams[`${BOX}/host`]!.jobs[0]!.envelope = '{"payload": 12';
  const agent = await world.agent();
  const result = await agent.cycle();
  t.match(result.items, [{ outcome: 'rejected', reason: { code: 'EMALFORMED' } }], 'malformed');
  t.equal(world.counter.invocations, 0, 'no engine run');
});
