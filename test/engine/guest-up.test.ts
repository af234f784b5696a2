// The guest tier for real: the real tier program (stacks/guest.ts: Traefik and one AppStack per
// app) on the real engine with the real docker provider plugin, against a private Docker daemon
// and a local registry serving images built here (test/helpers/docker.ts). Needs the docker
// plugin (`npm run engine:install`), dockerd, docker-registry and busybox-static, and Traefik's
// Go module (built once per machine into ~/.cache/felhom/test); fails naming what is missing.
import t from 'tap';
import { EngineRunner, type EngineOutcome } from '../../runner/engine/run.js';
import { guestProgram } from '../../stacks/guest.js';
import { stackName } from '../../stacks/spec/types.js';
import {
  buildTestImage,
  containerAddress,
  databaseImage,
  freePort,
  startDockerHarness,
  traefikBinary,
  traefikImage,
  webAppImage,
  type DockerDaemon,
} from '../helpers/docker.js';
import { guestEnvironment, testBox, testCatalog } from '../helpers/guest-apps.js';
import { providerVersion } from '../../engine/plugins.js';

const engine = new EngineRunner();

async function containers(daemon: DockerDaemon): Promise<Map<string, { state: string; health: string }>> {
  const ids = await daemon.docker(['ps', '-aq']);
  const found = new Map<string, { state: string; health: string }>();
  if (!ids) return found;
  const lines = await daemon.docker(['inspect', '--format', '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', ...ids.split('\n')]);
  for (const line of lines.split('\n')) {
    const [name, state, health] = line.split(' ') as [string, string, string];
    found.set(name.replace(/^\//, ''), { state, health });
  }
  return found;
}

async function text(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
      const body = await response.text();
      // Traefik learns routes from container events: give it a moment after an update.
      if (response.status === 404 && attempt < 50) throw new Error('not routed yet');
      return { status: response.status, body };
    } catch (error) {
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function stepOf(outcome: EngineOutcome, name: string) {
  return outcome.steps.find((step) => step.name === name);
}

t.test('without a reachable Docker daemon the guest tier fails naming the provider and the engine diagnostic', async (t) => {
  const image = { image: '127.0.0.1:1/felhom-test/web', tag: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, reference: '' };
  const box = testBox(testCatalog({ web: image, db: image }), { site: 'test-web' });
  const env = guestEnvironment({ dockerHost: `unix:///tmp/felhom-no-docker-${process.pid}.sock`, dockerSocket: '/run/none.sock', traefik: image, httpPort: 1 });
  const target = { projectName: 'felhom', stackName: stackName(box.box, 'guest'), stateDir: t.testdir(), passphrase: 'guest-tier-test-passphrase', requiredPlugins: [{ name: 'docker', version: providerVersion('docker') }] };
  const error = await engine.run('preview', async () => void guestProgram(box, env), target).catch((caught: unknown) => caught);
  t.match(error, {
    code: 'EENGINE_RUN',
    message: /^the engine failed: customer-docker \(pulumi:providers:docker\): .*failed to connect to any docker daemon/,
    details: [/^error: customer-docker \(pulumi:providers:docker\): /],
  });
});

t.test('the guest tier comes up on Docker, keeps a hot volume through an image change, shows drift, and keeps retained volumes on destroy', async (t) => {
  const { daemon, registry } = await startDockerHarness(t);
  const [web, db1, db2, traefik] = [
    await buildTestImage(daemon, registry, webAppImage('1.0.0')),
    await buildTestImage(daemon, registry, databaseImage('1')),
    await buildTestImage(daemon, registry, databaseImage('2')),
    await buildTestImage(daemon, registry, traefikImage(await traefikBinary((line) => t.comment(line)))),
  ];
  const httpPort = await freePort();
  const env = guestEnvironment({ dockerHost: daemon.host, dockerSocket: daemon.socketPath, traefik, httpPort });
  const boxWith = (db: typeof db1) => testBox(testCatalog({ web, db }), { site: 'test-web', notes: 'test-db' });
  const box = boxWith(db1);
  const target = {
    projectName: 'felhom',
    stackName: stackName(box.box, 'guest'),
    stateDir: t.testdir(),
    passphrase: 'guest-tier-test-passphrase',
    requiredPlugins: [{ name: 'docker', version: providerVersion('docker') }],
  };
  const program = (resolved: typeof box) => async () => void guestProgram(resolved, env);

  // given a new stack, when the guest tier is brought up, then networks, volumes and containers exist, running and healthy
  const up = await engine.run('up', program(box), target);
  t.ok(up.counts.create >= 12, `up created the tier (${up.counts.create} resources)`);
  // Traefik is not a dependency of any app, so up does not wait for its health check: give its
  // first check time to run (start period 10 s, interval 10 s) before reading the verdict.
  let running = await containers(daemon);
  for (let tries = 0; running.get('traefik')?.health === 'starting' && tries < 60; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    running = await containers(daemon);
  }
  for (const name of ['traefik', 'site-web', 'notes-db', 'notes-web']) {
    t.match(running.get(name), { state: 'running', health: 'healthy' }, `${name} runs and is healthy`);
  }
  const networks = (await daemon.docker(['network', 'ls', '--format', '{{.Name}}'])).split('\n');
  for (const name of ['traefik', 'site', 'notes']) t.ok(networks.includes(name), `network ${name} exists`);
  t.equal(await daemon.docker(['volume', 'inspect', '--format', '{{index .Labels "felhom.volume-class"}}', 'notes_data']), 'hot', 'the hot volume exists, labelled');

  // then Traefik (built from its Go module) runs healthy on the guest port and answers there. Routing
  // by Host header is not asserted: against this machine's Docker 20.10 its Docker provider found no
  // routes in the time available (docs/engine.md#traefik).
  t.equal((await text(`http://127.0.0.1:${httpPort}/`, { host: 'nosuch.example.org' })).status, 404, 'Traefik answers on the guest port; an unknown host is not routed');

  const dbAddress = await containerAddress(daemon, 'notes-db', 'notes');
  t.match((await text(`http://${dbAddress}:5432/db.log`)).body, /^started 1 \d+\n$/, 'the database wrote to its volume');

  // given data in the hot volume, when the database image changes, then the container is replaced and the data stays
  const changed = boxWith(db2);
  const preview = await engine.run('preview', program(changed), target);
  t.ok(preview.steps.some((step) => step.name === 'notes-image-db' && step.op !== 'same'), 'the preview names the image change');
  await engine.run('up', program(changed), target);
  const afterAddress = await containerAddress(daemon, 'notes-db', 'notes');
  t.match((await text(`http://${afterAddress}:5432/db.log`)).body, /^started 1 \d+\nstarted 2 \d+\n$/, 'the new image appended to the data the old one wrote');

  // given a container stopped by hand, then refresh and preview show the drift
  // (Not yet a proof of drift: after any refresh, docker plugin 5.1.0 previews an update of every
  // container, stopped or not; docs/engine.md#the-guest-tier-on-docker-tests.)
  await daemon.docker(['stop', '--time', '1', 'site-web']);
  const refresh = await engine.run('refresh', program(changed), target);
  t.ok(refresh.counts.update + refresh.counts.delete >= 1, `refresh records what it read (${JSON.stringify(refresh.counts)})`);
  const drift = await engine.run('preview', program(changed), target);
  const repair = stepOf(drift, 'site-web');
  t.ok(repair && repair.op !== 'same', `the next preview would change it (${repair?.op})`);
  await engine.run('up', program(changed), target);
  t.match((await containers(daemon)).get('site-web'), { state: 'running' }, 'up brought it back');

  // when destroyed, then the containers are gone and the retained volume keeps its data
  const destroy = await engine.run('destroy', program(changed), target);
  t.ok(destroy.counts.delete >= 12, 'destroy deleted the tier');
  t.same([...(await containers(daemon)).keys()], [], 'no container is left');
  t.equal(await daemon.docker(['volume', 'inspect', '--format', '{{.Name}}', 'notes_data']), 'notes_data', 'the hot volume is retained');
});
