// The journal step: an envelope is journaled (and archived, if it parses) before it is believed;
// a final one is skipped, an unfinished one goes on from its entry, and a differently signed copy
// of one refused at the signature rules is judged on its own.
import t, { type Test } from 'tap';
import { formatEnvelope, parseEnvelope } from '../../../../runner/envelope/index.js';
import { workItem } from '../../../../runner/agent/envelope-item.js';
import type { EnvelopeRun } from '../../../../runner/agent/context.js';
import { runEnvelope, runSteps } from '../../../../runner/agent/steps/index.js';
import { isDone, journalStep } from '../../../../runner/agent/steps/journal.js';
import { BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld, type ContextWorld } from '../../../helpers/agent-context.js';
import { signText } from '../../../helpers/envelopes.js';
import { testKey } from '../../../helpers/keys.js';

const job = { type: 'job' as const, serial: 3, body: { action: 'refresh' } };

const cases: { name: string; given: (w: ContextWorld) => Promise<EnvelopeRun>; expect: (t: Test, w: ContextWorld, run: EnvelopeRun) => Promise<void> }[] = [
  {
    name: 'a new envelope is journaled as received and archived',
    given: async (w) => ({ item: await w.item(job) }),
    expect: async (t, w, run) => {
      t.match(run.entry, { id: run.item!.digest, state: 'received', serial: 3, action: 'refresh' });
      t.equal(await w.ctx.archive.get(run.item!.digest), run.item!.envelope, 'archived');
      t.equal(run.result, undefined, 'the path goes on');
    },
  },
  {
    name: 'an envelope that does not parse is journaled under the hash of its bytes, not archived',
    given: async () => ({ item: workItem('job', '{"payload": ', BOX, 'host') }),
    expect: async (t, w, run) => {
      t.match(run.entry, { state: 'received', serial: 0, action: 'unknown' });
      t.equal(await w.ctx.archive.get(run.item!.digest), undefined, 'nothing archived');
    },
  },
  {
    name: 'an envelope the journal holds as final is skipped and the list stops',
    given: async (w) => {
      const item = await w.item(job);
      await w.applied(item);
      return { item };
    },
    expect: async (t, _w, run) => {
      t.match(run.result, { outcome: 'skipped', serial: 3, action: 'refresh' });
      t.equal(run.entry, undefined);
    },
  },
  {
    name: 'an unfinished envelope goes on from its entry',
    given: async (w) => {
      const item = await w.item(job);
      const { entry } = await w.received(item);
      await w.journal.transition(entry!.id, 'verified');
      return { item };
    },
    expect: async (t, _w, run) => t.match(run.entry, { state: 'verified', history: [{ state: 'received' }, { state: 'verified' }] }),
  },
  {
    name: 'a differently signed copy of an envelope refused at the signature rules is journaled on its own',
    given: async (w) => {
      const valid = await w.item(job);
      const payload = parseEnvelope(valid.envelope).payload;
      const mallory = formatEnvelope({ payload, signatures: [await signText(payload, await testKey('mallory'))] });
      const refused = workItem('job', mallory, BOX, 'host');
      const { entry } = await w.received(refused);
      await w.journal.transition(entry!.id, 'rejected', { code: 'EUNKNOWNKEY', message: 'no signature is by a trusted key' });
      return { item: valid };
    },
    expect: async (t, w, run) => {
      t.match(run.entry, { state: 'received', copy: run.item!.copy });
      t.ok(w.journal.get(`${run.item!.digest}#${run.item!.copy.slice(0, 16)}`) === undefined, 'this copy was never set aside');
      t.equal(w.journal.recent().filter((entry) => entry.state === 'rejected').length, 1, 'the refused copy stays rejected, set aside');
    },
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const w = await contextWorld(t);
    const run = await c.given(w);
    await runSteps(w.ctx, [journalStep], run);
    await c.expect(t, w, run);
  });
}

t.test('isDone: a final entry is done, unless it was refused at the signatures as another copy', async (t) => {
  const w = await contextWorld(t);
  const item = await w.item(job);
  t.notOk(isDone(w.journal, item), 'not in the journal');
  const run = await w.received(item);
  t.notOk(isDone(w.journal, item), 'unfinished');
  await w.journal.transition(run.entry!.id, 'rejected', { code: 'EUNKNOWNKEY', message: 'x' });
  t.ok(isDone(w.journal, item), 'the same copy refused: done');
  t.notOk(isDone(w.journal, { ...item, copy: 'f'.repeat(64) }), 'another copy: not done');
  t.match(await runEnvelope(w.ctx, { item }, [journalStep]), { outcome: 'skipped' });
});
