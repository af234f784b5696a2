// `felhom controller once` with the real guest program (stacks/guest.ts) on the real engine,
// against the real hub (the controller's own credential) and the agent's real local API on the
// simulated host. There is no Docker daemon here for the guest program to deploy onto, so the
// paths the command can show without one are shown: a deploy that reaches the engine inside a
// snapshot and fails there (the snapshot is kept, EDEPLOY), a missing plugin (nothing
// snapshotted), a forged envelope, nothing new, bad options. The healthy and the rolled-back
// deploy are shown on the real engine with a program of dynamic providers in
// test/runner/controller/controller.test.ts.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { felhom } from '../helpers/cli.js';
import { CO_BOX, controllerWorld, GUEST, type ControllerWorld } from '../helpers/controller.js';
import { engineHomeWithout } from '../helpers/engine-install.js';
import { snapshotsOf } from '../helpers/local-api.js';

const args = (world: ControllerWorld, ...extra: string[]) => [
  'controller',
  'once',
  '--hub',
  world.hub.hub.url,
  '--box',
  CO_BOX,
  '--guest',
  GUEST,
  '--state',
  world.stateDir,
  '--trust',
  world.trustPath,
  '--local-api',
  world.co.server.socketPath(GUEST),
  '--log-format',
  'json',
  ...extra,
];

const calls = async (world: ControllerWorld) => (await world.co.entries()).filter((entry) => entry.outcome !== 'accepted').map((entry) => `${entry.action} ${entry.outcome}`);

const noSecrets = (t: Tap.Test, world: ControllerWorld, text: string) => {
  t.notOk(text.includes(world.credentials.hubApiKey), 'the hub key is not in the output');
  t.notOk(text.includes(world.credentials.localApiToken), 'the local-API token is not in the output');
};

t.test('controller once runs the real guest program inside a snapshot: without a Docker daemon the up fails and the snapshot is kept', async (t) => {
  const world = await controllerWorld(t);
  t.equal((await felhom(args(world))).code, 0, 'nothing published: exit 0');
  await world.publish(1);

  const result = await felhom(args(world, '--docker-host', `unix:///tmp/felhom-no-docker-${process.pid}.sock`, '--json'));

  t.equal(result.code, 1, 'the spec failed: exit 1');
  t.match(JSON.parse(result.stdout), { status: 'failed', serial: 1, reason: { code: 'EDEPLOY', message: /tenant-a-docker \(pulumi:providers:docker\).*snapshot pre-deploy-1 is kept/ } });
  t.same(await calls(world), ['local-api.snapshot succeeded'], 'the agent took the snapshot before the engine ran');
  t.same(await snapshotsOf(world.co.sim, 201), ['pre-deploy-1'], 'kept for a person to roll back to');
  t.match(await world.hub.operator.listReports({ box: CO_BOX }), [{ tier: 'guest', outcome: 'failed', serial: 1, reason: { code: 'EDEPLOY' } }], 'reported to the hub');
  t.match(result.stderr, /"msg":"guest spec failed"/, 'logged as JSON lines');
  noSecrets(t, world, result.stdout + result.stderr);
});

t.test('controller once without the docker plugin fails the spec before the snapshot', async (t) => {
  const world = await controllerWorld(t);
  await world.publish(1);
  const result = await felhom(args(world), { env: { FELHOM_ENGINE_HOME: await engineHomeWithout(t, ['docker']) } });
  t.equal(result.code, 1);
  t.match(result.stdout, /^guest spec serial 1 failed \(EPLUGIN_MISSING: .*docker/m);
  t.same(await calls(world), [], 'the host was not asked for a snapshot');
  t.match(await world.hub.operator.listReports({ box: CO_BOX }), [{ outcome: 'failed', reason: { code: 'EPLUGIN_MISSING' } }]);
});

t.test('controller once rejects a spec the operators did not sign', async (t) => {
  const world = await controllerWorld(t);
  await world.publish(1, { signer: 'mallory' });
  const result = await felhom(args(world, '--json'));
  t.equal(result.code, 1);
  t.match(JSON.parse(result.stdout), { status: 'rejected', serial: null, reason: { code: 'EUNKNOWNKEY' } });
  t.same(await calls(world), []);
  t.match(await world.hub.operator.listReports({ box: CO_BOX }), [{ tier: 'guest', outcome: 'rejected', reason: { code: 'EUNKNOWNKEY' } }]);
});

t.test('controller once without its credentials names the missing file (exit 3)', async (t) => {
  const world = await controllerWorld(t);
  await rm(join(world.stateDir, 'keys', 'local-api-token'));
  const result = await felhom(args(world));
  t.equal(result.code, 3);
  t.match(result.stderr, /^felhom: EAGENT_SETUP: no local-API token in .*keys\/local-api-token/m);
});

t.test('controller once with an unreachable hub is retried later (exit 3)', async (t) => {
  const world = await controllerWorld(t);
  const result = await felhom([...args(world).map((arg) => (arg === world.hub.hub.url ? 'http://127.0.0.1:1' : arg))]);
  t.equal(result.code, 3);
  t.match(result.stderr, /^felhom: EHUB_UNAVAILABLE: /m);
});

t.test('bad options are usage errors naming the option', async (t) => {
  const world = await controllerWorld(t);
  const cases: [string[], RegExp][] = [
    [['--traefik-port', 'eighty'], /^felhom: EUSAGE: --traefik-port: expected a port 1\.\.65535, got "eighty"$/m],
    [['--health-url', 'ftp://nas.lan/'], /^felhom: EUSAGE: --health-url: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/nas\.lan\/"$/m],
    [['--health-url', 'not a url'], /--health-url: expected an http/],
    [['--health-timeout', '0s'], /^felhom: EUSAGE: --health-timeout: expected a duration/m],
    [['--log-level', 'loud'], /^felhom: EUSAGE: --log-level: expected one of debug, info, warn, error, got "loud"$/m],
  ];
  for (const [extra, message] of cases) {
    const result = await felhom(args(world, ...extra));
    t.equal(result.code, 2, `${extra.join(' ')}: exit 2`);
    t.match(result.stderr, message);
  }
  const noHub = await felhom(args(world).filter((arg, index, all) => arg !== '--hub' && all[index - 1] !== '--hub'), { env: { FELHOM_HUB_URL: '' } });
  t.equal(noHub.code, 2);
  t.match(noHub.stderr, /--hub: no hub URL given/);
  const noGuest = await felhom(args(world).filter((arg, index, all) => arg !== '--guest' && all[index - 1] !== '--guest'));
  t.equal(noGuest.code, 2);
  t.match(noGuest.stderr, /--guest/);
  t.same(await calls(world), [], 'none of them reached the host');
});
