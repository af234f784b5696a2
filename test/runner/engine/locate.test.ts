import t from 'tap';
import { chmod, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EngineNotInstalledError,
  PluginNotInstalledError,
  findProjectRoot,
  locateEngine,
  pluginRequestedBy,
  requirePlugins,
} from '../../../runner/engine/locate.js';
import { describeFailure } from '../../../cli/errors.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** An engine home whose bin/pulumi is the project's installed CLI, with its own plugin folder. */
async function engineHomeWithRealCli(t: Tap.Test): Promise<string> {
  const installed = await locateEngine({ projectRoot });
  const home = await mkdtemp(join(tmpdir(), 'felhom-locate-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  await mkdir(join(home, 'bin'));
  await mkdir(join(home, 'plugins'));
  await symlink(await realpath(installed.pulumiPath), join(home, 'bin', 'pulumi'));
  return home;
}

async function addPluginDir(home: string, entry: string, binary: string | undefined): Promise<void> {
  await mkdir(join(home, 'plugins', entry));
  if (binary) {
    await writeFile(join(home, 'plugins', entry, binary), '');
    await chmod(join(home, 'plugins', entry, binary), 0o755);
  }
}

t.test('the project root is the folder holding felhom package.json', async (t) => {
  t.equal(findProjectRoot(join(projectRoot, 'runner', 'engine')), projectRoot);
  t.throws(() => findProjectRoot(tmpdir()), EngineNotInstalledError, 'outside the project there is no root');
});

t.test('the installed engine is found with its version, plugin folder and environment', async (t) => {
  const engine = await locateEngine({ projectRoot });
  t.equal(engine.root, join(projectRoot, '.engine'));
  t.equal(engine.pulumiPath, join(projectRoot, '.engine', 'bin', 'pulumi'));
  t.match(engine.version, /^v3\.\d+\.\d+/, 'pulumi version answered');
  t.equal(engine.pluginDir, join(projectRoot, '.engine', 'plugins'));
  t.equal(engine.env.PULUMI_HOME, engine.root, 'PULUMI_HOME is the engine home');
  t.equal(engine.env.PATH?.split(delimiter)[0], join(engine.root, 'bin'), 'PATH starts with the engine bin');
  t.ok(engine.env.PATH?.split(delimiter).includes(join(projectRoot, 'node_modules', '@pulumi', 'pulumi')), 'PATH reaches the dynamic provider plugin');
  t.equal(engine.env.NODE_PATH?.split(delimiter)[0], join(projectRoot, 'node_modules'), 'NODE_PATH lets the dynamic provider resolve @pulumi/pulumi');
  t.equal(engine.env.PULUMI_SKIP_UPDATE_CHECK, 'true');
  t.equal(engine.env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION, 'true', 'plugins come from engine:install only');
});

t.test('a missing engine is a typed error that names the install command', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'felhom-locate-empty-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const error = await locateEngine({ engineHome: empty }).catch((caught: unknown) => caught);
  t.type(error, EngineNotInstalledError);
  t.match(error, { code: 'EENGINE_MISSING', engineHome: empty, message: /run `npm run engine:install`/ });
  t.equal(describeFailure(error).exitCode, 3);
});

t.test('an engine that does not run is reported as not installed', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'felhom-locate-broken-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  await mkdir(join(home, 'bin'));
  await writeFile(join(home, 'bin', 'pulumi'), '#!/bin/sh\nexit 1\n');
  await chmod(join(home, 'bin', 'pulumi'), 0o755);
  const error = await locateEngine({ engineHome: home }).catch((caught: unknown) => caught);
  t.type(error, EngineNotInstalledError);
  t.match(error, { code: 'EENGINE_MISSING', message: /does not run/ });
});

t.test('plugins count only when their executable is there and no install is under way', async (t) => {
  const home = await engineHomeWithRealCli(t);
  await addPluginDir(home, 'resource-random-v4.21.2', 'pulumi-resource-random');
  // Pulumi keeps the lock file beside every plugin it installed: it does not mean unfinished.
  await writeFile(join(home, 'plugins', 'resource-random-v4.21.2.lock'), '');
  await addPluginDir(home, 'resource-command-v1.2.1', 'pulumi-resource-command');
  await writeFile(join(home, 'plugins', 'resource-command-v1.2.1.partial'), '');
  await addPluginDir(home, 'resource-docker-v5.2.0', undefined);
  await addPluginDir(home, 'language-nodejs-v3.0.0', 'pulumi-language-nodejs');

  const engine = await locateEngine({ engineHome: home });
  t.same(engine.plugins, [{ name: 'random', version: '4.21.2' }]);
});

t.test('requirePlugins lists every plugin that is missing or at another version', async (t) => {
  const home = await engineHomeWithRealCli(t);
  await addPluginDir(home, 'resource-random-v4.21.1', 'pulumi-resource-random');
  await addPluginDir(home, 'resource-command-v1.2.1', 'pulumi-resource-command');
  const engine = await locateEngine({ engineHome: home });

  t.doesNotThrow(() => requirePlugins(engine, [{ name: 'command', version: 'v1.2.1' }]), 'a present plugin passes');
  const error = (() => {
    try {
      requirePlugins(engine, [{ name: 'random', version: '4.21.2' }, { name: 'docker', version: '5.2.0' }, { name: 'command', version: '1.2.1' }]);
      return undefined;
    } catch (caught) {
      return caught;
    }
  })();
  t.type(error, PluginNotInstalledError);
  t.match(error, {
    code: 'EPLUGIN_MISSING',
    missing: [{ name: 'random', version: '4.21.2' }, { name: 'docker', version: '5.2.0' }],
    message: /random 4\.21\.2, docker 5\.2\.0 not installed .*run `npm run engine:install`/,
  });
});

t.test('the plugin an SDK needs is read from its package.json pulumi block', async (t) => {
  t.same(await pluginRequestedBy('@pulumi/random', projectRoot), { name: 'random', version: '4.21.1' }, 'the SDK is pinned at the plugin version');
  t.same(await pluginRequestedBy('@muhlba91/pulumi-proxmoxve', projectRoot), { name: 'proxmoxve', version: '8.6.0' });
  await t.rejects(pluginRequestedBy('@pulumi/pulumi', projectRoot), /does not name a resource plugin/, 'the core SDK names none');
});

t.test('an executable that does not answer with a version is not taken for the engine', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'felhom-locate-odd-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  await mkdir(join(home, 'bin'));
  await writeFile(join(home, 'bin', 'pulumi'), '#!/bin/sh\necho hello\n');
  await chmod(join(home, 'bin', 'pulumi'), 0o755);
  const error = await locateEngine({ engineHome: home }).catch((caught: unknown) => caught);
  t.type(error, EngineNotInstalledError);
  t.match(error, { code: 'EENGINE_MISSING', message: /reports version "hello"/ });
});

t.test('FELHOM_ENGINE_HOME points at an engine outside the project', async (t) => {
  const home = await engineHomeWithRealCli(t);
  const before = process.env.FELHOM_ENGINE_HOME;
  process.env.FELHOM_ENGINE_HOME = home;
  t.teardown(() => {
    if (before === undefined) delete process.env.FELHOM_ENGINE_HOME;
    else process.env.FELHOM_ENGINE_HOME = before;
  });
  const engine = await locateEngine();
  t.equal(engine.root, home, 'the engine home comes from the environment');
  t.equal(engine.env.PULUMI_HOME, home);
  t.same(await pluginRequestedBy('@pulumi/command'), { name: 'command', version: '1.2.1' }, 'SDKs are still read from this project');
});
