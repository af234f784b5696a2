// The step loop: steps run in order until one throws or stops the list; a step with nothing to
// do is passed over unannounced; announced steps call the hook and are refused once stopping.
import t from 'tap';
import { StepFailure, type StepName } from '../../../../runner/agent/context.js';
import { StoppingError } from '../../../../runner/agent/errors.js';
import { runSteps, type Step } from '../../../../runner/agent/steps/index.js';
import { contextWorld } from '../../../helpers/agent-context.js';

interface Trace {
  ran: string[];
  value?: number;
}

const step = (name: string, extra: Partial<Step<Trace>> = {}): Step<Trace> => ({
  name,
  async run(_ctx, trace) {
    trace.ran.push(name);
  },
  ...extra,
});

const boom = new Error('boom');

const cases: { name: string; steps: Step<Trace>[]; ran: string[]; announced: StepName[]; failure?: { step?: StepName; error: unknown } }[] = [
  { name: 'every step, in order', steps: [step('a', { announce: 'fetch' }), step('b'), step('c', { announce: 'apply' })], ran: ['a', 'b', 'c'], announced: ['fetch', 'apply'] },
  {
    name: "a step whose `when` says no is passed over, unannounced",
    steps: [step('a'), step('b', { announce: 'verify', when: (trace) => trace.ran.length > 5 }), step('c')],
    ran: ['a', 'c'],
    announced: [],
  },
  {
    name: "'stop' ends the list",
    steps: [step('a', { announce: 'journal', run: async (_ctx, trace) => {
      trace.ran.push('a');
      return 'stop';
    } }), step('b', { announce: 'verify' })],
    ran: ['a'],
    announced: ['journal'],
  },
  {
    name: 'a throw ends the list and passes through as it is',
    steps: [step('a', { run: async () => { throw boom; } }), step('b')],
    ran: [],
    announced: [],
    failure: { error: boom },
  },
  {
    name: 'a throw from a step with failsAs becomes a StepFailure of that step',
    steps: [step('a', { failsAs: 'fetch', run: async () => { throw boom; } }), step('b')],
    ran: [],
    announced: [],
    failure: { step: 'fetch', error: boom },
  },
  {
    name: "a StepFailure keeps its own step under failsAs",
    steps: [step('a', { failsAs: 'fetch', run: async () => { throw new StepFailure('verify', boom); } })],
    ran: [],
    announced: [],
    failure: { step: 'verify', error: boom },
  },
];

t.test('runSteps', async (t) => {
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const announced: StepName[] = [];
      const { ctx } = await contextWorld(t, (options) => ({ ...options, runtime: { beforeStep: (name) => void announced.push(name) } }));
      const trace: Trace = { ran: [] };
      const error = await runSteps(ctx, c.steps, trace).then(() => undefined, (e: unknown) => e);
      t.same(trace.ran, c.ran, 'the steps that ran');
      t.same(announced, c.announced, 'the steps announced');
      if (!c.failure) t.equal(error, undefined, 'no error');
      else if (c.failure.step) t.match(error, { constructor: StepFailure, step: c.failure.step, error: c.failure.error });
      else t.equal(error, c.failure.error, 'the error as thrown');
    });
  }
});

t.test('the hook is told which envelope; a stopping agent starts no announced step', async (t) => {
  const controller = new AbortController();
  const seen: unknown[] = [];
  const { ctx } = await contextWorld(t, (options) => ({ ...options, runtime: { stopSignal: controller.signal, beforeStep: (name, item) => void seen.push([name, item]) } }));
  const subject = { id: 'd'.repeat(64), serial: 7, action: 'refresh' };
  const trace: Trace = { ran: [] };
  await runSteps(ctx, [step('a', { announce: 'journal' })], trace, () => subject);
  t.same(seen, [['journal', { digest: subject.id, serial: 7, action: 'refresh' }]]);

  controller.abort();
  const error = await runSteps(ctx, [step('silent'), step('b', { announce: 'apply' })], trace).catch((e: unknown) => e);
  t.same(trace.ran, ['a', 'silent'], 'an unannounced step still runs; the announced one does not');
  t.match(error, { step: 'apply', error: StoppingError });
  t.match((error as StepFailure).error, { message: /the apply step was not started/ });
});
