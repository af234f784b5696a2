// The operator's `pulumi preview` by hand, with the real CLI through the project's Pulumi.yaml:
//   FELHOM_SPEC=examples/home-box.yaml pulumi preview --stack hb-0001.host
// Needs the Node language host and the host tier's plugins (engine/plugins.json) in the project's
// `.engine/`, and `npm run build` (npm test builds first). A missing one FAILS naming it: never skipped.
import t from 'tap';
import { execFile } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pinnedPlugin } from '../../engine/plugins.js';
import { locateEngine } from '../../runner/engine/locate.js';
import { projectRoot } from '../helpers/engine-install.js';

const run = promisify(execFile);

t.test('pulumi preview --stack hb-0001.host previews the host tier of the spec FELHOM_SPEC names', async (t) => {
  const engine = await locateEngine({ projectRoot });
  const language = pinnedPlugin('nodejs', 'language');
  const needed = [language, pinnedPlugin('proxmoxve'), pinnedPlugin('command')];
  const missing = [];
  for (const plugin of needed) {
    const binary = join(engine.pluginDir, `${plugin.kind}-${plugin.name}-v${plugin.version}`, `pulumi-${plugin.kind}-${plugin.name}`);
    if (!(await access(binary).then(() => true, () => false))) missing.push(plugin);
  }
  if (missing.length) {
    t.fail(`not installed in ${engine.pluginDir}: ${missing.map((plugin) => `${plugin.kind} plugin ${plugin.name} ${plugin.version}`).join(', ')}: run \`npm run engine:install\` (docs/engine.md)`);
    return;
  }
  await access(join(projectRoot, 'dist', 'stacks', 'main.js')).catch(() => t.fail('dist/stacks/main.js is missing: run `npm run build`'));

  const state = await mkdtemp(join(tmpdir(), 'felhom-pulumi-yaml-'));
  const stack = 'hb-0001.host';
  t.teardown(async () => {
    await rm(state, { recursive: true, force: true });
    await rm(join(projectRoot, `Pulumi.${stack}.yaml`), { force: true });
  });
  const env = {
    ...process.env,
    ...engine.env,
    // The language host runs `node` from PATH: this Node 24.
    PATH: [join(engine.root, 'bin'), dirname(process.execPath), engine.env.PATH].join(delimiter),
    PULUMI_BACKEND_URL: `file://${state}`,
    PULUMI_CONFIG_PASSPHRASE: 'pulumi-yaml-test',
    FELHOM_SPEC: join(projectRoot, 'examples', 'home-box.yaml'),
    FELHOM_PROXMOX_API_TOKEN: 'root@pam!felhom=11111111-2222-3333-4444-555555555555',
  };
  const pulumi = (args: string[]) => run(engine.pulumiPath, args, { cwd: projectRoot, env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });

  await pulumi(['stack', 'init', stack, '--non-interactive']);
  const preview = await pulumi(['preview', '--stack', stack, '--non-interactive', '--json']).catch((error: { stdout?: string; stderr?: string }) => {
    t.fail(`pulumi preview failed: ${error.stderr ?? ''} ${error.stdout ?? ''}`.slice(0, 4000));
    return undefined;
  });
  if (!preview) return;
  const result = JSON.parse(preview.stdout) as { steps: { op: string; urn: string }[]; changeSummary: Record<string, number> };
  t.ok((result.changeSummary.create ?? 0) > 0, `the host tier would create resources: ${JSON.stringify(result.changeSummary)}`);
  t.ok(result.steps.some((step) => step.urn.includes('felhom:host:CustomerLxc')), 'its customer LXCs among them');
  t.ok(result.steps.every((step) => !step.urn.includes('docker')), 'only the host tier ran');

});

t.test('a stack name that is not <box>.<tier> is refused by the program with the expected form', async (t) => {
  const engine = await locateEngine({ projectRoot });
  const language = pinnedPlugin('nodejs', 'language');
  if (!(await access(join(engine.pluginDir, `language-nodejs-v${language.version}`, 'pulumi-language-nodejs')).then(() => true, () => false))) {
    t.fail(`language plugin nodejs ${language.version} is not installed: run \`npm run engine:install\` (docs/engine.md)`);
    return;
  }
  const state = await mkdtemp(join(tmpdir(), 'felhom-pulumi-yaml-'));
  t.teardown(async () => {
    await rm(state, { recursive: true, force: true });
    await rm(join(projectRoot, 'Pulumi.dev.yaml'), { force: true });
  });
  const env = { ...process.env, ...engine.env, PATH: [join(engine.root, 'bin'), dirname(process.execPath), engine.env.PATH].join(delimiter), PULUMI_BACKEND_URL: `file://${state}`, PULUMI_CONFIG_PASSPHRASE: 'x' };
  await run(engine.pulumiPath, ['stack', 'init', 'dev', '--non-interactive'], { cwd: projectRoot, env });
  const error = await run(engine.pulumiPath, ['preview', '--stack', 'dev', '--non-interactive'], { cwd: projectRoot, env, maxBuffer: 64 * 1024 * 1024 }).then(() => undefined, (caught: { stdout?: string; stderr?: string }) => caught);
  t.ok(error, 'the preview fails');
  t.match(`${error?.stdout ?? ''}${error?.stderr ?? ''}`, /stack "dev": expected <box>\.<tier> with a tier of edge, host, guest/, 'naming the expected stack name form');
});
