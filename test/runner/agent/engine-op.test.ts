// One engine operation: the tier program, the stack target, preflight; after the stop signal the
// running operation is given the grace period to finish on its own.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { engineOp } from '../../../runner/agent/engine-op.js';
import { boxSpec } from '../../helpers/agent-fixture.js';
import { contextWorld } from '../../helpers/agent-context.js';

const specOf = () => boxSpec() as never;

for (const stopped of [false, true]) {
  t.test(`an up ${stopped ? 'after the stop signal finishes within its grace, and says so' : 'runs the tier program'}`, async (t) => {
    const stop = new AbortController();
    if (stopped) stop.abort();
    const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (message: string, fields?: Record<string, unknown>) => void warnings.push({ message, ...(fields ? { fields } : {}) }) };
    const w = await contextWorld(t, (options) => ({ ...options, engine: { ...options.engine, graceMs: 600_000 }, runtime: { logger, stopSignal: stop.signal } }));
    const outcome = await engineOp(w.ctx, 'up', specOf(), false);
    t.match(outcome.counts, { create: 10 });
    t.equal(w.ctx.counters.engineRuns, 1);
    t.ok((await readdir(w.world.outputDir)).includes('guest-customer.json'), 'the program ran');
    t.same(warnings.filter((line) => line.message.startsWith('stop requested')), stopped ? [{ message: 'stop requested; letting the engine operation finish', fields: { graceMs: 600_000 } }] : []);
  });
}
