/**
 * Running engine/install.mjs as a user runs it, in throw-away copies of the project, and finding
 * a real installed plugin for the tests to install again. Shared by the engine install tests.
 */
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINE_PINS, type PinnedPlugin } from '../../engine/plugins.js';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const installScript = join(projectRoot, 'engine', 'install.mjs');

export interface InstallRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A project copy with the installer's inputs (script, pins, wrapper Go module); `.engine/` starts empty. */
export async function projectCopy(t: Tap.Test, pins: unknown = ENGINE_PINS): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'felhom-install-'));
  t.teardown(() => rm(copy, { recursive: true, force: true }));
  await mkdir(join(copy, 'engine', 'pulumi'), { recursive: true });
  await copyFile(installScript, join(copy, 'engine', 'install.mjs'));
  await writeFile(join(copy, 'engine', 'plugins.json'), JSON.stringify(pins, null, 2));
  for (const name of ['go.mod', 'go.sum', 'tools.go']) {
    await copyFile(join(projectRoot, 'engine', 'pulumi', name), join(copy, 'engine', 'pulumi', name));
  }
  await writeFile(join(copy, 'package.json'), JSON.stringify({ name: 'felhom-infra', dependencies: {} }));
  return copy;
}

/** PATH with this Node and the basic tools only: no go, no pulumi, unless a folder is added. */
export function barePath(...extra: string[]): string {
  return [...extra, dirname(process.execPath), '/usr/bin', '/bin'].join(':');
}

/**
 * Runs the installer of `copy` with nothing of this machine but what `env` gives: HOME is the
 * copy (no plugin cache), download sites are unreachable ports, the machine cache is empty.
 */
export function runInstall(copy: string, env: Record<string, string>, args: string[] = ['--cli-only']): Promise<InstallRun> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, [join(copy, 'engine', 'install.mjs'), ...args], {
      env: {
        HOME: copy,
        PATH: barePath(),
        FELHOM_PULUMI_RELEASES_URL: 'http://127.0.0.1:9/releases',
        FELHOM_PLUGIN_RELEASES_URL: 'http://127.0.0.1:9/plugins',
        FELHOM_ENGINE_CACHE: join(copy, 'empty-cache'),
        ...env,
      },
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      resolveRun({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function executable(path: string): Promise<boolean> {
  return access(path, fsConstants.X_OK).then(() => true, () => false);
}

/** The plugin caches of this machine the installer reads, and the project's own engine home. */
export function pluginCaches(): string[] {
  return [join(projectRoot, '.engine', 'plugins'), join(homedir(), '.pulumi', 'plugins'), ...(process.env.PULUMI_HOME ? [join(process.env.PULUMI_HOME, 'plugins')] : [])];
}

/** Where a pinned plugin is installed on this machine, if anywhere. */
export async function installedPluginFolder(plugin: PinnedPlugin): Promise<string | undefined> {
  for (const cache of pluginCaches()) {
    const folder = join(cache, `${plugin.kind}-${plugin.name}-v${plugin.version}`);
    if (await executable(join(folder, `pulumi-${plugin.kind}-${plugin.name}`))) return folder;
  }
  return undefined;
}

/**
 * The smallest pinned plugin installed here, for tests that install one for real. Throws, naming
 * the plugin and how to install it, when none is: the tests fail then, they never skip.
 */
export async function aRealPlugin(preferred: readonly string[] = ['random', 'command', 'docker']): Promise<PinnedPlugin> {
  for (const name of preferred) {
    const plugin = ENGINE_PINS.plugins.find((candidate) => candidate.name === name)!;
    if (await installedPluginFolder(plugin)) return plugin;
  }
  const wanted = ENGINE_PINS.plugins.find((candidate) => candidate.name === preferred[0])!;
  throw new Error(`these tests need a real provider plugin, e.g. ${wanted.name} ${wanted.version}, in ${pluginCaches().join(' or ')}: ` +
    'run `npm run engine:install` (with FELHOM_ENGINE_MIRROR naming a mirror that has it), or install it with `pulumi plugin install` (docs/engine.md)');
}

/** `node engine/install.mjs mirror --out <out> --only <only>` in this project: how an operator seeds a mirror. */
export function packMirror(out: string, only: string): Promise<InstallRun> {
  return new Promise((done) => {
    execFile(process.execPath, [installScript, 'mirror', '--out', out, '--only', only], { env: process.env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
}

/**
 * An engine home for one test: the project's installed CLI (`.engine/bin`), and every plugin the
 * project's `.engine/plugins` holds except those named, so a test can see a plugin missing
 * whatever this machine has. Pass it as FELHOM_ENGINE_HOME.
 */
export async function engineHomeWithout(t: Tap.Test, missing: readonly string[]): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'felhom-engine-home-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  const source = join(projectRoot, '.engine');
  await symlink(join(source, 'bin'), join(home, 'bin'));
  await mkdir(join(home, 'plugins'));
  const entries = await readdir(join(source, 'plugins')).catch(() => [] as string[]);
  for (const entry of entries) {
    if (missing.some((name) => entry.startsWith(`resource-${name}-v`))) continue;
    await symlink(join(source, 'plugins', entry), join(home, 'plugins', entry));
  }
  return home;
}
