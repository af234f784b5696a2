// `felhom controller run`: cycles with the long poll until SIGTERM (the command's stop signal),
// reports what it saw to the hub, and logs JSON lines with its secrets redacted.
import t from 'tap';
import { main } from '../../cli/main.js';
import { felhom } from '../helpers/cli.js';
import { CO_BOX, controllerWorld, GUEST } from '../helpers/controller.js';

t.test('controller run picks up a published spec by the long poll and stops on the stop signal', async (t) => {
  const world = await controllerWorld(t);
  const stop = new AbortController();
  let stderr = '';
  const running = main(
    ['controller', 'run', '--hub', world.hub.hub.url, '--box', CO_BOX, '--guest', GUEST, '--state', world.stateDir, '--trust', world.trustPath, '--local-api', world.co.server.socketPath(GUEST), '--log-format', 'json', '--wait', '2'],
    { streams: { stdout: { write: () => true }, stderr: { write: (chunk: string) => (stderr += chunk) } }, env: { ...process.env }, cwd: process.cwd(), stopSignal: stop.signal },
  );
  await world.publish(1, { signer: 'mallory' });
  // Until the controller has reported it: the hub's record is what the test waits on.
  while ((await world.hub.operator.listReports({ box: CO_BOX })).length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  stop.abort();
  t.equal(await running, 0, 'a stop is a clean exit');
  t.match(await world.hub.operator.listReports({ box: CO_BOX }), [{ tier: 'guest', outcome: 'rejected', reason: { code: 'EUNKNOWNKEY' } }]);
  const messages = stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => (JSON.parse(line) as { msg: string }).msg);
  t.same(messages, ['controller started', 'guest spec rejected', 'controller stopped']);
  t.notOk(stderr.includes(world.credentials.hubApiKey) || stderr.includes(world.credentials.localApiToken), 'no secret in the logs');
});

t.test('controller run --wait outside 1..60 is a usage error', async (t) => {
  const result = await felhom(['controller', 'run', '--hub', 'http://127.0.0.1:1', '--box', CO_BOX, '--guest', GUEST, '--state', t.testdir(), '--trust', 'trust.json', '--wait', '0']);
  t.equal(result.code, 2);
  t.match(result.stderr, /^felhom: EUSAGE: --wait: expected 1\.\.60 seconds, got 0$/m);
});
