/**
 * The real engine with the real provider plugins (docs/engine.md#benchmarks):
 *
 * - a preview of each tier of the example home box (`felhom preview`'s path: placeholder
 *   credentials, a fresh file backend; the guest tier against a private dockerd), wall time;
 * - the same box through `felhom plan` (the mocked, offline plan of all three tiers), and the
 *   ratio plan / preview;
 * - a guest-tier `up` of 1 and of 5 test apps on a private Docker daemon with a local registry
 *   (test/helpers/docker.ts), wall time.
 *
 * Needs `npm run engine:install` with the plugins, docker.io, docker-registry, busybox-static, and
 * Traefik's Go module for the `up`. A figure whose parts are missing prints why instead.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { realProgramFactory, tierPlugins } from '../runner/agent/program.js';
import { EngineRunner } from '../runner/engine/run.js';
import { previewEnvironment } from '../stacks/environment.js';
import { planBox } from '../stacks/plan.js';
import { catalogLookup } from '../stacks/spec/catalog.js';
import { loadBoxSpec } from '../stacks/spec/load.js';
import { resolveBox } from '../stacks/spec/resolve.js';
import { stackName, TIERS, type Tier } from '../stacks/spec/types.js';
import { guestProgram } from '../stacks/guest.js';
import { loadGoldenTemplate } from '../templates/lib/golden.js';
import { providerVersion } from '../engine/plugins.js';
import { buildTestImage, databaseImage, freePort, startDockerDaemon, startRegistry, traefikBinary, traefikImage, webAppImage, type DockerDaemon, type LocalRegistry } from '../test/helpers/docker.js';
import { guestEnvironment, testBox, testCatalog } from '../test/helpers/guest-apps.js';

const example = fileURLToPath(new URL('../../examples/home-box.yaml', import.meta.url));

async function timed<T>(operation: () => Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const result = await operation();
  return [result, Number(process.hrtime.bigint() - start) / 1e6];
}

async function scratch(): Promise<{ dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-bench-engine-'));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

export async function run(): Promise<void> {
  const engine = new EngineRunner();
  const catalog = catalogLookup();
  const spec = await loadBoxSpec(example, { catalog });
  const box = resolveBox(spec, catalog, loadGoldenTemplate().sizing);
  const programFor = await realProgramFactory();

  let daemon: DockerDaemon | undefined;
  let registry: LocalRegistry | undefined;
  try {
    daemon = await startDockerDaemon();
    const previews: Partial<Record<Tier, number>> = {};
    for (const tier of TIERS) {
      const state = await scratch();
      const requiredPlugins = await tierPlugins(tier);
      try {
        const [outcome, ms] = await timed(() =>
          engine.run('preview', programFor(tier, box, previewEnvironment({ dockerHost: daemon!.host })), {
            projectName: 'felhom',
            stackName: stackName(box.box, tier),
            stateDir: state.dir,
            passphrase: randomBytes(18).toString('base64url'),
            requiredPlugins,
          }),
        );
        previews[tier] = ms;
        console.log(`preview ${tier} tier of the home box (${outcome.steps.length} steps, ${outcome.counts.create} to create): ${ms.toFixed(0)} ms`);
      } catch (error) {
        console.log(`preview ${tier} tier: unavailable: ${(error as Error).message}`);
      } finally {
        await state.done();
      }
    }
    const [, planMs] = await timed(() => planBox(spec, { tiers: TIERS, catalog }));
    const total = Object.values(previews).reduce((sum, ms) => sum + ms, 0);
    console.log(`felhom plan of the home box, all tiers (mocked): ${planMs.toFixed(0)} ms`);
    if (Object.keys(previews).length === TIERS.length) console.log(`ratio plan / real preview of all tiers: ${(planMs / total).toFixed(2)} (${planMs.toFixed(0)} / ${total.toFixed(0)} ms)`);
    else console.log('ratio plan / real preview: unavailable (a tier preview failed above)');

    registry = await startRegistry();
    const images = {
      web: await buildTestImage(daemon, registry, webAppImage('1.0.0')),
      db: await buildTestImage(daemon, registry, databaseImage('1')),
    };
    const traefik = await buildTestImage(daemon, registry, traefikImage(await traefikBinary((line) => console.log(line))));
    const testApps = testCatalog(images);
    for (const count of [1, 5]) {
      const apps = Object.fromEntries(Array.from({ length: count }, (_, index) => [`app${index + 1}`, index % 2 === 0 ? 'test-web' : 'test-db'] as const));
      const guestBox = testBox(testApps, apps);
      const env = guestEnvironment({ dockerHost: daemon.host, dockerSocket: daemon.socketPath, traefik, httpPort: await freePort() });
      const state = await scratch();
      const target = {
        projectName: 'felhom',
        stackName: `bench-${count}.guest`,
        stateDir: state.dir,
        passphrase: randomBytes(18).toString('base64url'),
        requiredPlugins: [{ name: 'docker', version: providerVersion('docker') }],
      };
      const program = async () => void guestProgram(guestBox, env);
      try {
        const [outcome, ms] = await timed(() => engine.run('up', program, target));
        console.log(`guest up of ${count} test app${count === 1 ? '' : 's'} (${outcome.counts.create} resources, containers healthy): ${ms.toFixed(0)} ms`);
        await engine.run('destroy', program, target);
        for (const volume of (await daemon.docker(['volume', 'ls', '-q'])).split('\n').filter(Boolean)) await daemon.docker(['volume', 'rm', volume]);
      } finally {
        await state.done();
      }
    }
  } finally {
    await daemon?.stop();
    await registry?.stop();
  }
}
