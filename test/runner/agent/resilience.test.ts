// The agent when things go wrong around it: the hub down then back, and two agents on one
// state directory.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { LockHeldError } from '../../../runner/state/lock.js';
import { startHub } from '../../../hub/server.js';
import { runDaemon } from '../../../runner/agent/daemon.js';
import { jsonLogger } from '../../../runner/agent/logger.js';
import type { CycleResult } from '../../../runner/agent/agent.js';
import { agentWorld, boxSpec, BOX } from '../../helpers/agent-fixture.js';
import { OPERATOR_TOKEN } from '../../helpers/hub.js';

t.test('with the hub down the cycle waits (backoff), and when it is back the spec is applied', async (t) => {
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  const { port } = world.hub.hub;
  const dataDir = world.hub.dataDir;
  await world.hub.hub.close();

  // when the hub is down, then one cycle stops at fetch, waiting, and the engine never runs
  const agent = await world.agent();
  const down = await agent.cycle();
  t.match(down, { status: 'waiting', error: { code: 'EHUB_UNAVAILABLE', kind: 'waiting', step: 'fetch' } }, 'waiting for the hub');
  t.equal(world.counter.invocations, 0, 'no engine run');

  // when the daemon keeps trying and the hub comes back on the same port, then the spec is applied
  const stop = new AbortController();
  const results: CycleResult[] = [];
  let revived: Awaited<ReturnType<typeof startHub>> | undefined;
  const lines: Record<string, unknown>[] = [];
  const daemon = runDaemon(agent, {
    logger: jsonLogger({ stream: { write: (chunk) => lines.push(JSON.parse(chunk) as Record<string, unknown>) } }),
    stopSignal: stop.signal,
    waitSeconds: 1,
    backoff: { baseMs: 20, capMs: 200 },
    onCycle: (result) => {
      results.push(result);
      if (results.length === 2 && !revived) void startHub({ dataDir, port, operatorToken: OPERATOR_TOKEN }).then((hub) => (revived = hub));
      if (result.status === 'done') stop.abort();
    },
  });
  await daemon;
  t.teardown(() => revived?.close());
  t.ok(results.filter((result) => result.status === 'waiting').length >= 2, 'the daemon retried while the hub was down');
  t.match(results.at(-1), { status: 'done', items: [{ outcome: 'succeeded' }] }, 'then applied the spec');
  t.ok((await readdir(world.outputDir)).includes('guest-customer.json'), 'the engine ran');
  // and the log says once that the hub went away and once that it came back
  t.match(lines.filter((line) => line.msg === 'hub unreachable; the applied state stays, retrying with backoff'), [{ level: 'warn', reason: 'EHUB_UNAVAILABLE' }]);
  const back = lines.filter((line) => line.msg === 'hub reachable again');
  t.equal(back.length, 1);
  t.match(back[0], { level: 'info', downForMs: Number, failedCycles: Number });
  t.ok((back[0]!.failedCycles as number) >= 2);
});

t.test('a second agent on the same state directory waits on the stack lock', async (t) => {
  const world = await agentWorld(t);
  const first = await world.agent();
  await t.rejects(world.agent(), LockHeldError, 'the second agent gets LockHeldError');
  const error = await world.agent().catch((e: unknown) => e);
  t.match(error, { code: 'ELOCK_HELD', kind: 'waiting' }, 'a waiting error: retry later');

  // when the first agent stops, then the second one starts
  await first.close();
  const second = await world.agent();
  await world.publish({ serial: 1, body: boxSpec() as never });
  t.match(await second.cycle(), { status: 'done' }, 'the second agent works');
  t.equal((await world.hub.operator.listReports({ box: BOX })).length, 1, 'one report');
});
