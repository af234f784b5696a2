// The stateful-protected gate in the agent (docs/policies.md): before it changes existing state on
// the host tier, the agent previews with the real engine and refuses a plan that would delete or
// replace a guest or a storage. The test program's resources are dynamic ones, so the engine is
// wrapped to add the step a real Proxmox plan would contain (the container's delete).
import t from 'tap';
import { agentWorld, boxSpec, engineRunner } from '../../helpers/agent-fixture.js';
import type { EngineOperation, Engines, EngineOutcome } from '../../../runner/engine/run.js';

const CONTAINER = 'proxmoxve:index/containerLegacy:ContainerLegacy';

/** The real engine, recording each operation, with `extraSteps` added to every preview's steps. */
function recordingEngine(extraSteps: EngineOutcome['steps']): Engines & { operations: EngineOperation[] } {
  const real = engineRunner();
  const operations: EngineOperation[] = [];
  return {
    operations,
    engine: () => real.engine(),
    preflight: (target) => real.preflight(target),
    recover: (program, target, options) => real.recover(program, target, options),
    run: async (operation, program, target, options) => {
      operations.push(operation);
      const outcome = await real.run(operation, program, target, options);
      return operation === 'preview' ? { ...outcome, steps: [...outcome.steps, ...extraSteps] } : outcome;
    },
  };
}

t.test('the first spec on an empty stack goes straight to up: there is nothing to destroy', async (t) => {
  const world = await agentWorld(t);
  const engine = recordingEngine([]);
  const agent = await world.agent({ engine });
  await world.publish({ serial: 1, body: boxSpec() as never });
  t.match((await agent.cycle()).items, [{ outcome: 'succeeded' }]);
  t.same(engine.operations, ['up']);
});

t.test('a later spec is previewed first, and applied when nothing stateful would be destroyed', async (t) => {
  const world = await agentWorld(t);
  const engine = recordingEngine([]);
  const agent = await world.agent({ engine });
  await world.publish({ serial: 1, body: boxSpec() as never });
  await agent.cycle();
  await world.publish({ serial: 2, body: boxSpec((spec) => void (spec.spec.apps = spec.spec.apps.filter((app) => app.name !== 'media'))) as never });
  t.match((await agent.cycle()).items, [{ serial: 2, outcome: 'succeeded', counts: { delete: 1 } }], 'an app removed: not a guest or storage');
  t.same(engine.operations, ['up', 'preview', 'up']);
});

t.test('a spec whose plan would delete a customer LXC is refused before up, with the capability it lacks', async (t) => {
  const world = await agentWorld(t);
  const urn = 'urn:pulumi:box-1.host::felhom::felhom:host:CustomerLxc$proxmoxve:index/containerLegacy:ContainerLegacy::customer-container';
  const engine = recordingEngine([]);
  const agent = await world.agent({ engine });
  await world.publish({ serial: 1, body: boxSpec() as never });
  await agent.cycle();

  const destructive = recordingEngine([{ urn, type: CONTAINER, op: 'delete', name: 'customer', changes: [] }]);
  await agent.close();
  const again = await world.agent({ engine: destructive });
  await world.publish({ serial: 2, body: boxSpec((spec) => void (spec.spec.guests[0]!.cores = 8)) as never });
  const result = await again.cycle();
  t.match(result.items, [{ serial: 2, outcome: 'failed', reason: { code: 'EPOLICY_DESTRUCTIVE', message: /delete .*customer-container \(needs destroy-guest\)/ } }]);
  t.same(destructive.operations, ['preview'], 'no up ran');
  const reports = await world.hub.operator.listReports({ box: 'box-1' });
  t.ok(reports.some((report) => report.reason?.code === 'EPOLICY_DESTRUCTIVE'), 'the hub learns why');
});

t.test('a signed apply job naming the refused spec and carrying destroy-guest applies it; without the capability it is refused again', async (t) => {
  const world = await agentWorld(t);
  const urn = 'urn:pulumi:box-1.host::felhom::felhom:host:CustomerLxc$proxmoxve:index/containerLegacy:ContainerLegacy::customer-container';
  const engine = recordingEngine([{ urn, type: CONTAINER, op: 'replace', name: 'customer', changes: [] }]);
  const agent = await world.agent({ engine });
  await world.publish({ serial: 1, body: boxSpec() as never });
  await agent.cycle();
  await world.publish({ serial: 2, body: boxSpec((spec) => void (spec.spec.guests[0]!.cores = 8)) as never });
  const refused = (await agent.cycle()).items[0]!;
  t.match(refused, { outcome: 'failed', reason: { code: 'EPOLICY_DESTRUCTIVE' } });

  // when an apply job names that spec without the capability, then it is refused again
  await world.publish({ type: 'job', serial: 3, body: { action: 'apply', spec: refused.digest } });
  t.match((await agent.cycle()).items, [{ action: 'apply', outcome: 'failed', reason: { code: 'EPOLICY_DESTRUCTIVE' } }]);

  // when the signed job grants destroy-guest, then the spec is applied and becomes the last applied one
  engine.operations.length = 0;
  await world.publish({ type: 'job', serial: 4, body: { action: 'apply', spec: refused.digest, capabilities: ['destroy-guest'] } });
  t.match((await agent.cycle()).items, [{ action: 'apply', outcome: 'succeeded' }]);
  t.same(engine.operations, ['preview', 'up']);
  const { Journal } = await import('../../../runner/state/journal.js');
  t.match((await Journal.open(world.stateDir)).lastApplied('box-1', 'host'), { serial: 4, specDigest: refused.digest });
});

t.test('an apply job naming a spec this box never received is refused with ESPEC_UNKNOWN, and a bad capability never verifies', async (t) => {
  const world = await agentWorld(t);
  const agent = await world.agent({ engine: recordingEngine([]) });
  await world.publish({ serial: 1, body: boxSpec() as never });
  await agent.cycle();
  await world.publish({ type: 'job', serial: 2, body: { action: 'apply', spec: 'a'.repeat(64) } });
  t.match((await agent.cycle()).items, [{ outcome: 'failed', reason: { code: 'ESPEC_UNKNOWN' } }]);
  await world.publish({ type: 'job', serial: 3, body: { action: 'apply', capabilities: ['root'] } }).then(
    () => t.fail('the operator side refuses to sign or publish it'),
    () => t.pass('the operator side refuses it'),
  );
});
