// The verify step: an accepted envelope gets its `accepted` audit entry and the `verified` state
// (the floor rises before anything is applied); a refused one an outcome for the record step and
// leaves the archive; a `waiting` error stops the cycle at verify. Every verification is at the
// agent's injected clock, through the one path (verifyForBox) the apply job's received spec uses too.
import t from 'tap';
import { verifyAuditLog } from '../../../../runner/state/audit.js';
import { StepFailure, type AgentOptions, type EnvelopeRun } from '../../../../runner/agent/context.js';
import { AgentError } from '../../../../runner/agent/errors.js';
import { runSteps } from '../../../../runner/agent/steps/index.js';
import { rollbackFloor, verifyForBox, verifyStep } from '../../../../runner/agent/steps/verify.js';
import { boxSpec } from '../../../helpers/agent-fixture.js';
import { contextWorld, type ContextWorld } from '../../../helpers/agent-context.js';

const job = (serial: number, extra: object = {}) => ({ type: 'job' as const, serial, body: { action: 'refresh' }, ...extra });

interface Case {
  readonly name: string;
  readonly options?: (options: AgentOptions) => AgentOptions;
  readonly given: (w: ContextWorld) => Promise<EnvelopeRun>;
  /** The run's outcome after the step: undefined when admitted. */
  readonly outcome?: { outcome: string; code: string };
  readonly state: string;
  readonly archived: boolean;
  readonly accepted: number;
}

const cases: Case[] = [
  { name: 'a valid job is admitted: verified, one accepted entry, the floor at its serial', given: async (w) => w.received(await w.item(job(4))), state: 'verified', archived: true, accepted: 1 },
  { name: 'an envelope for another box is rejected and leaves the archive', given: async (w) => w.received(await w.item(job(4, { box: 'box-2' }))), outcome: { outcome: 'rejected', code: 'EWRONGBOX' }, state: 'received', archived: false, accepted: 0 },
  {
    name: 'a serial below the last applied one is rejected (rollback)',
    given: async (w) => {
      await w.applied(await w.item({ serial: 9, body: boxSpec() }));
      return w.received(await w.item(job(5)));
    },
    outcome: { outcome: 'rejected', code: 'EROLLBACK' },
    state: 'received',
    archived: false,
    accepted: 0,
  },
  {
    name: 'an entry verified before is checked again, and its own serial is no replay of itself',
    given: async (w) => {
      const run = await w.received(await w.item(job(6)));
      return { ...run, entry: await w.journal.transition(run.entry!.id, 'verified') };
    },
    state: 'verified',
    archived: true,
    accepted: 0,
  },
  {
    name: 'a running entry that no longer verifies has failed (it may have changed things)',
    given: async (w) => {
      const run = await w.received(await w.item(job(6, { issuedAt: new Date(Date.now() - 2 * 60 * 60_000), expiresAt: new Date(Date.now() - 60 * 60_000) })));
      await w.journal.transition(run.entry!.id, 'verified');
      return { ...run, entry: await w.journal.transition(run.entry!.id, 'running') };
    },
    outcome: { outcome: 'failed', code: 'EEXPIRED' },
    state: 'running',
    archived: true,
    accepted: 0,
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const w = await contextWorld(t, c.options);
    const run = await c.given(w);
    await runSteps(w.ctx, [verifyStep], run);
    if (c.outcome) t.match(run, { verified: null, outcome: { outcome: c.outcome.outcome, error: { code: c.outcome.code } } }, 'refused, for the record step');
    else {
      t.equal(run.outcome, undefined, 'admitted');
      t.equal(run.verified?.digest, run.item!.digest, 'what verification believed');
      t.equal(rollbackFloor(w.ctx), run.item!.header.serial, 'the floor is at its serial');
    }
    t.equal(w.journal.get(run.item!.digest)?.state, c.state, `the journal entry is ${c.state}`);
    t.equal((await w.ctx.archive.get(run.item!.digest)) !== undefined, c.archived, c.archived ? 'still archived' : 'gone from the archive');
    const { entries } = await verifyAuditLog(w.audit.file);
    t.equal(entries.filter((entry) => entry.outcome === 'accepted').length, c.accepted, `${c.accepted} accepted audit entry`);
  });
}

t.test('a waiting error (a box-side check) stops at verify as a StepFailure, nothing recorded', async (t) => {
  const w = await contextWorld(t, (options) => ({
    ...options,
    spec: {
      ...options.spec,
      validateBody: () => {
        throw new AgentError('ECATALOG_BUSY', 'waiting', 'the catalog is being updated');
      },
    },
  }));
  const run = await w.received(await w.item({ serial: 2, body: boxSpec() }));
  const error = await runSteps(w.ctx, [verifyStep], run).catch((e: unknown) => e);
  t.match(error, { constructor: StepFailure, step: 'verify', error: { code: 'ECATALOG_BUSY' } });
  t.equal(run.outcome, undefined, 'no outcome to record');
  t.equal(w.journal.get(run.item!.digest)?.state, 'received');
});

t.test('a newly verified serial supersedes envelopes waiting below it', async (t) => {
  const w = await contextWorld(t);
  const waiting = await w.received(await w.item(job(3)));
  await w.journal.transition(waiting.entry!.id, 'verified');
  await w.journal.transition(waiting.entry!.id, 'running');
  await w.journal.transition(waiting.entry!.id, 'waiting', { code: 'ESECRET', message: 'missing' }, { retry: { attempt: 1, nextAt: new Date().toISOString() } });
  const newer = await w.received(await w.item(job(4)));
  await runSteps(w.ctx, [verifyStep], newer);
  t.match(w.journal.get(waiting.entry!.id), { state: 'failed', reason: { code: 'ESUPERSEDED' } });
});

// The injected clock: an envelope issued in 2030 verifies at a box clock in 2030, and is not yet
// valid at the system clock. Both users of the one verify path see the same clock.
const ISSUED = new Date('2030-01-01T00:00:00Z');
const future = { issuedAt: ISSUED, expiresAt: new Date('2030-01-02T00:00:00Z') };
const clockCases: { name: string; clock?: () => Date; admitted: boolean }[] = [
  { name: 'at a box clock in 2030 the 2030 envelope verifies', clock: () => new Date('2030-01-01T12:00:00Z'), admitted: true },
  { name: 'at the system clock it is not yet valid', admitted: false },
  { name: 'at a box clock past its expiry it has expired', clock: () => new Date('2030-01-03T00:00:00Z'), admitted: false },
];
for (const c of clockCases) {
  t.test(`the verify step and verifyForBox use the injected clock: ${c.name}`, async (t) => {
    const w = await contextWorld(t, (options) => ({ ...options, runtime: c.clock ? { clock: c.clock } : {} }));
    const item = await w.item({ serial: 2, body: boxSpec(), ...future });
    const direct = await verifyForBox(w.ctx, item.envelope, { type: 'spec' }).then(() => 'verified', (e: { code: string }) => e.code);
    const run = await w.received(item);
    await runSteps(w.ctx, [verifyStep], run);
    const step = run.outcome ? (run.outcome.error as { code: string }).code : 'verified';
    const expected = c.admitted ? 'verified' : c.clock ? 'EEXPIRED' : 'ENOTYETVALID';
    t.equal(direct, expected, 'verifyForBox');
    t.equal(step, expected, 'the verify step');
  });
}
