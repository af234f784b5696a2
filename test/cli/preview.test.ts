// `felhom preview` runs the real engine with the real provider plugins: for each tier of both
// example boxes it prints the diff the way `pulumi preview --diff` does (placeholder credentials
// of the shapes the providers check, secrets masked), `--json` has the steps, and a failure
// prints the engine's diagnostics per resource. Needs the plugins (`npm run engine:install`) and,
// for the guest tier, a private Docker daemon (test/helpers/docker.ts); where a plugin is missing
// the preview fails naming it, and so does this test: it never skips.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { felhom } from '../helpers/cli.js';
import { startDockerDaemon } from '../helpers/docker.js';
import { PREVIEW_PROXMOX_API_TOKEN } from '../../stacks/environment.js';
import type { EngineStep } from '../../runner/engine/diff.js';

const examples = {
  'home-box': fileURLToPath(new URL('../../examples/home-box.yaml', import.meta.url)),
  'company-box': fileURLToPath(new URL('../../examples/company-box.yaml', import.meta.url)),
};

/** A line of the diff for a create of `type` named `name`. */
const createLine = (type: string, name?: string) => new RegExp(`^ {2}\\+ {2}${type.replace(/[$/]/g, '\\$&')} {2}${name ?? '\\S+'}$`, 'm');

// The edge tier's preview (the cloudflare plugin) is in test/engine/edge-tier.test.ts.
t.test('the host tier of both example boxes previews on the real engine with its diff', async (t) => {
  for (const [box, file] of Object.entries(examples)) {
    const host = await felhom(['preview', file, '--tier', 'host']);
    t.equal(host.code, 0, `${box} host: ${host.stderr}`);
    t.match(host.stdout, createLine('proxmoxve:index/containerLegacy:ContainerLegacy'), `${box} host: a container to create`);
    t.match(host.stdout, /^ {8}\+ \w+: /m, `${box} host: its inputs under it`);
    t.match(host.stdout, /host tier, stack \S+\.host: \d+ to create, 0 to update, 0 to replace, 0 to delete, \d+ unchanged$/m);
    t.notOk(host.stdout.includes(PREVIEW_PROXMOX_API_TOKEN), `${box} host: the token is masked`);

  }
});

t.test('the guest tier previews against a Docker daemon; --json has every step', async (t) => {
  const daemon = await startDockerDaemon(t);
  for (const [box, file] of Object.entries(examples)) {
    const result = await felhom(['preview', file, '--tier', 'guest', '--json'], { env: { DOCKER_HOST: daemon.host } });
    t.equal(result.code, 0, `${box} guest: ${result.stderr}`);
    const preview = JSON.parse(result.stdout) as { tier: string; counts: { create: number }; steps: EngineStep[] };
    t.equal(preview.tier, 'guest');
    const container = preview.steps.find((step) => step.type === 'docker:index/container:Container' && step.name.endsWith('-traefik-container'));
    t.match(container, { op: 'create', changes: [] as unknown[] }, `${box}: Traefik's container is created`);
    t.ok(container?.changes.some((change) => change.path === 'image'), 'with its inputs');
    // The engine's summary does not count the stack itself (pulumi:pulumi:Stack), which it creates on a first preview.
    const creates = preview.steps.filter((step) => step.op === 'create' && step.type !== 'pulumi:pulumi:Stack');
    t.equal(creates.length, preview.counts.create, 'one create step per counted create');
  }
});

t.test('the guest tier without a reachable Docker daemon fails with the engine diagnostic naming the provider', async (t) => {
  const result = await felhom(['preview', examples['home-box'], '--tier', 'guest', '--docker-host', `unix:///tmp/felhom-no-docker-${process.pid}.sock`]);
  t.equal(result.code, 3, 'exit 3: a failure outside the input');
  t.match(result.stderr, /^felhom: EENGINE_RUN: the engine failed: customer-docker \(pulumi:providers:docker\): .*failed to connect to any docker daemon/m, 'the message names the resource and why');
  t.match(result.stderr, /^ {2}error: \S+ \(pulumi:providers:docker\): /m, 'the diagnostics, one per resource, under it');
  t.notMatch(result.stderr, /^felhom: EENGINE_RUN: the engine failed: error: preview failed$/m, 'never only "preview failed"');
});

t.test('preview validates the spec first: an invalid spec exits 1 without the engine', async (t) => {
  const dir = t.testdir();
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'apiVersion: felhom.dev/v1alpha1\nkind: Box\nmetadata: { box: x }\n');
  const result = await felhom(['preview', bad, '--tier', 'guest']);
  t.equal(result.code, 1, 'exit 1');
  t.match(result.stderr, /ESPEC/, 'a spec error');
});

t.test('preview refuses an unknown tier (usage, exit 2)', async (t) => {
  const result = await felhom(['preview', examples['home-box'], '--tier', 'moon']);
  t.equal(result.code, 2, 'exit 2');
});
