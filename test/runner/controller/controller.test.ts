/**
 * The in-guest controller on the real engine: a guest-tier program of dynamic providers (one
 * file per app of the controller's own guest; test/helpers/agent-program.ts) stands in for the
 * guest program's Docker resources, everything else is real: the hub with the controller's own
 * credential, the agent's local API on the simulated host, the box spec validator and resolver,
 * the default health check through a stand-in for the guest's Traefik that answers per Host.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';
import type { ProgramFactory } from '../../../runner/agent/program.js';
import { openController, runController, type OpenControllerOptions } from '../../../runner/controller/controller.js';
import type { ControllerCycleResult } from '../../../runner/controller/cycle.js';
import { guestStackName } from '../../../runner/controller/engine-deploy.js';
import { appTargets, checkHealth, urlTargets } from '../../../runner/controller/health.js';
import { engineRunner } from '../../helpers/agent-fixture.js';
import { FailingDisk, LocalFile } from '../../helpers/agent-program.js';
import { CO_BOX, controllerWorld, GUEST, type ControllerWorld } from '../../helpers/controller.js';
import { snapshotsOf } from '../../helpers/local-api.js';
import { tempDir } from '../../helpers/enrollment.js';

/** The guest tier as the controller runs it: only its own guest's apps; `labels.fail` makes the up fail. */
function guestFilesProgram(outputDir: string, seen: { guest?: string; tier?: string }[]): ProgramFactory {
  return (tier, box, env) => {
    seen.push({ ...(env.guest ? { guest: env.guest } : {}), tier });
    const program: PulumiFn = async () => {
      for (const app of box.apps.filter((candidate) => candidate.guest === env.guest)) {
        new LocalFile(`app-${app.name}`, { path: join(outputDir, `app-${app.name}.json`), content: JSON.stringify({ template: app.template, hostname: app.hostname }) });
      }
      if (box.labels.fail) new FailingDisk('broken', box.labels.fail);
      return {};
    };
    return program;
  };
}

async function open(t: Tap.Test, world: ControllerWorld, extra: Partial<OpenControllerOptions> = {}) {
  const outputDir = tempDir(t);
  const seen: { guest?: string; tier?: string }[] = [];
  const controller = await openController({
    box: CO_BOX,
    guest: GUEST,
    stateDir: world.stateDir,
    trustPath: world.trustPath,
    hubUrl: world.hub.hub.url,
    localApiSocket: world.co.server.socketPath(GUEST),
    engines: engineRunner(),
    programFor: guestFilesProgram(outputDir, seen),
    health: { traefik: { port: world.traefik.port }, timeoutMs: 1_000, intervalMs: 50 },
    hubTimeoutMs: 10_000,
    ...extra,
  });
  t.teardown(() => controller.close());
  return { controller, outputDir, seen };
}

const calls = async (world: ControllerWorld) => (await world.co.entries()).filter((entry) => entry.outcome !== 'accepted').map((entry) => `${entry.action} ${entry.outcome}`);

t.test('a verified guest spec is deployed inside a snapshot, health checked through Traefik and reported', async (t) => {
  const world = await controllerWorld(t);
  const { controller, outputDir, seen } = await open(t, world);
  t.same(await controller.once(), { status: 'idle' }, 'nothing published yet');

  await world.publish(1);
  const result = await controller.once();

  t.match(result, { status: 'succeeded', serial: 1 });
  t.same((await readdir(outputDir)).sort(), ['app-files.json', 'app-passwords.json'], "the engine created tenant-a's apps, and no other guest's");
  t.same(seen, [{ guest: GUEST, tier: 'guest' }], 'the program ran for the guest tier, restricted to this guest');
  t.same([...new Set(world.traefik.asked)].sort(), ['files.bodnar-kft.hu', 'passwords.bodnar-kft.hu'], "the health check asked each of tenant-a's apps by its Host");
  t.same(await snapshotsOf(world.co.sim, 201), [], 'the transient snapshot is gone');
  t.same(await calls(world), ['local-api.snapshot succeeded', 'local-api.delete-snapshot succeeded']);
  t.ok(existsSync(join(world.stateDir, 'engine', '.pulumi', 'stacks', 'felhom', `${CO_BOX}.guest.${GUEST}.json`)), 'the stack is the guest\'s own on a box of several guests');
  t.match(await world.hub.operator.listReports({ box: CO_BOX }), [{ tier: 'guest', outcome: 'succeeded', serial: 1 }]);
  t.same(await controller.once(), { status: 'idle' }, 'the same spec is not deployed twice');
});

t.test('an app that does not answer after the deploy is rolled back through the local API and reported EHEALTH', async (t) => {
  const world = await controllerWorld(t);
  const { controller } = await open(t, world);
  world.traefik.status.set('passwords.bodnar-kft.hu', 502);
  await world.publish(1);

  const result = await controller.once();

  t.match(result, { status: 'failed', serial: 1, reason: { code: 'EHEALTH', message: /app passwords answered 502.*rolled back to snapshot pre-deploy-1/ } });
  t.same(await calls(world), ['local-api.snapshot succeeded', 'local-api.rollback succeeded'], 'one snapshot, one rollback');
  t.same(await snapshotsOf(world.co.sim, 201), ['pre-deploy-1'], 'the snapshot rolled back to is kept');
  t.match(await world.hub.operator.listReports({ box: CO_BOX }), [{ outcome: 'failed', serial: 1, reason: { code: 'EHEALTH' } }]);
});

t.test('an engine failure keeps the snapshot for a person (EDEPLOY)', async (t) => {
  const world = await controllerWorld(t);
  const { controller } = await open(t, world);
  await world.publish(1, { change: (spec) => void (spec.metadata.labels = { fail: 'disk-full' }) });
  t.match(await controller.once(), { status: 'failed', serial: 1, reason: { code: 'EDEPLOY', message: /disk-full.*snapshot pre-deploy-1 is kept/ } });
  t.same(await snapshotsOf(world.co.sim, 201), ['pre-deploy-1']);
  t.same(await calls(world), ['local-api.snapshot succeeded'], 'no rollback after a partial deploy');
});

t.test('a spec signed by an unknown key is rejected before any snapshot', async (t) => {
  const world = await controllerWorld(t);
  const { controller, outputDir } = await open(t, world);
  await world.publish(1, { signer: 'mallory' });
  t.match(await controller.once(), { status: 'rejected', serial: null, reason: { code: 'EUNKNOWNKEY' } });
  t.same(await readdir(outputDir), [], 'nothing deployed');
  t.same(await calls(world), [], 'the host was not asked for anything');
  t.match(await world.hub.operator.listReports({ box: CO_BOX }), [{ outcome: 'rejected', reason: { code: 'EUNKNOWNKEY' } }]);
});

t.test('a spec that does not name this guest fails before the snapshot', async (t) => {
  const world = await controllerWorld(t);
  const { controller } = await open(t, world);
  await world.publish(1, {
    change: (spec) => {
      spec.spec.guests = spec.spec.guests.filter((guest) => guest.name !== GUEST);
      spec.spec.apps = (spec.spec.apps ?? []).filter((app) => app.guest !== GUEST);
      spec.spec.guests[0]!.mounts = [{ storage: 'nas-files', sizeGiB: 2000 }];
    },
  });
  t.match(await controller.once(), { status: 'failed', serial: 1, reason: { code: 'ECONTROLLER_GUEST', message: /the spec has no guest tenant-a \(it names tenant-b, tenant-c\)/ } });
  t.same(await calls(world), [], 'no snapshot');
});

t.test('a guest spec with a missing engine plugin fails before the snapshot', async (t) => {
  const world = await controllerWorld(t);
  const { controller } = await open(t, world, { requiredPlugins: async () => [{ name: 'no-such-plugin', version: '1.0.0' }] });
  await world.publish(1);
  t.match(await controller.once(), { status: 'failed', serial: 1, reason: { code: 'EPLUGIN_MISSING' } });
  t.same(await calls(world), [], 'no snapshot');
});

t.test('a controller without its credentials does not start, naming the file', async (t) => {
  const base = { box: CO_BOX, guest: GUEST, trustPath: 'trust.json', hubUrl: 'http://127.0.0.1:1', localApiSocket: '/nowhere', engines: engineRunner(), programFor: guestFilesProgram(tempDir(t), []) };
  await t.rejects(openController({ ...base, stateDir: tempDir(t) }), { code: 'EAGENT_SETUP', message: /no hub API key in .*keys\/hub-api-key/ });
  const world = await controllerWorld(t);
  const { rm } = await import('node:fs/promises');
  await rm(join(world.stateDir, 'keys', 'local-api-token'));
  await t.rejects(openController({ ...base, stateDir: world.stateDir }), { code: 'EAGENT_SETUP', message: /no local-API token in .*keys\/local-api-token/ });
});

t.test('run: cycles with the long poll until stopped, and backs off while the hub is down', async (t) => {
  const world = await controllerWorld(t);
  const lines: string[] = [];
  const logger = { debug: () => {}, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const { controller } = await open(t, world, { logger });
  const stop = new AbortController();
  const results: ControllerCycleResult[] = [];
  const running = runController(controller, {
    stopSignal: stop.signal,
    waitSeconds: 5,
    logger,
    onCycle: (result) => {
      results.push(result);
      if (result.status === 'succeeded') stop.abort();
    },
  });
  await world.publish(1);
  await running;
  t.match(results.at(-1), { status: 'succeeded', serial: 1 }, 'the published spec was picked up by the long poll');
  t.same(lines.filter((line) => /^(controller|guest spec)/.test(line)), ['controller started', 'guest spec applied', 'controller stopped'], 'the controller logs its start, the applied spec and its stop');

  // when the hub is gone, then each cycle's error is logged and retried, until the stop
  const offline = await openController({ ...{ box: CO_BOX, guest: 'tenant-b', trustPath: world.trustPath, localApiSocket: '/nowhere', engines: engineRunner(), programFor: guestFilesProgram(tempDir(t), []) }, stateDir: world.stateDir, hubUrl: 'http://127.0.0.1:1', hubTimeoutMs: 1_000 });
  t.teardown(() => offline.close());
  const stopOffline = new AbortController();
  const warnings: Record<string, unknown>[] = [];
  await runController(offline, {
    stopSignal: stopOffline.signal,
    backoff: { baseMs: 1, capMs: 5 },
    logger: { ...logger, warn: (_m: string, fields?: Record<string, unknown>) => void (warnings.push(fields ?? {}), warnings.length >= 3 && stopOffline.abort()) },
  });
  t.match(warnings[0], { reason: 'EHUB_UNAVAILABLE', kind: 'waiting' }, 'the hub outage is logged with its reason, and retried');
});

t.test('health targets: the apps of this guest by Host through Traefik, or the URLs named', async (t) => {
  const world = await controllerWorld(t);
  const { controller } = await open(t, world);
  await world.publish(1);
  await controller.once();
  const applied = controller.deployer.applied!;
  t.equal(guestStackName(applied, GUEST), `${CO_BOX}.guest.${GUEST}`);
  t.same(appTargets(applied, 'tenant-c'), [{ name: 'app status', url: 'http://127.0.0.1:80/', host: 'status.bodnar-kft.hu' }], 'the default Traefik address');
  t.same(await checkHealth([]), { healthy: true, detail: 'no app with an HTTP route to check' });
  const down = await checkHealth(urlTargets(['http://127.0.0.1:1/']), { timeoutMs: 1, intervalMs: 1 });
  t.match(down, { healthy: false, detail: /^http:\/\/127\.0\.0\.1:1\/ did not answer \(ECONNREFUSED\)$/ });
  world.traefik.status.set('127.0.0.1:' + world.traefik.port, 401);
  t.match(await checkHealth(urlTargets([`http://127.0.0.1:${world.traefik.port}/`])), { healthy: true }, 'a login page is an app that is up');
});
