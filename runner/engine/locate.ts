/**
 * Finds the Pulumi engine that `npm run engine:install` put into the project's `.engine/`
 * (laid out like ~/.pulumi: `bin/pulumi`, `plugins/`), and the environment the Automation API
 * must pass to it, so the runner never depends on the user's PATH or ~/.pulumi.
 */
import { constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FelhomError } from '../../lib/errors.js';

const execFileAsync = promisify(execFile);

/** What the engine needs to be told, as environment variables for the Automation API. */
export type EngineEnv = Readonly<Record<string, string>>;

/** A provider plugin found in the engine's plugin directory. */
export interface InstalledPlugin {
  readonly name: string;
  readonly version: string;
}

/** A Pulumi CLI that answered `pulumi version`, and how to run it. */
export interface LocatedEngine {
  /** The engine home: `PulumiCommand.get({ root })` takes this, PULUMI_HOME points here. */
  readonly root: string;
  /** Absolute path of the `pulumi` executable. */
  readonly pulumiPath: string;
  /** What `pulumi version` printed, e.g. `v3.274.1`. */
  readonly version: string;
  /** Where resource plugins live (`<root>/plugins`). */
  readonly pluginDir: string;
  /** Resource plugins installed there. */
  readonly plugins: readonly InstalledPlugin[];
  /** Environment for `LocalWorkspace` (`envVars`): PULUMI_HOME, PATH, NODE_PATH, no update check. */
  readonly env: EngineEnv;
}

export interface LocateEngineOptions {
  /**
   * The project whose `.engine/` to use.
   * @default - FELHOM_ENGINE_HOME's parent when set, else the nearest folder above this module
   * holding the felhom package.json
   */
  readonly projectRoot?: string;
  /**
   * The engine home itself, for an install outside a project (a box keeps it under /opt).
   * @default - `<projectRoot>/.engine`, or FELHOM_ENGINE_HOME when set
   */
  readonly engineHome?: string;
}

const INSTALL_HINT = 'run `npm run engine:install`';

/** The Pulumi engine is not installed where the runner looks for it. */
export class EngineNotInstalledError extends FelhomError {
  readonly engineHome: string;
  constructor(engineHome: string, reason: string, options: { cause?: unknown } = {}) {
    super('EENGINE_MISSING', 'generic', `the Pulumi engine is not installed in ${engineHome} (${reason}): ${INSTALL_HINT}`, options);
    this.engineHome = engineHome;
  }
}

/** A provider plugin a program needs is not in the engine's plugin directory. */
export class PluginNotInstalledError extends FelhomError {
  readonly missing: readonly InstalledPlugin[];
  constructor(pluginDir: string, missing: readonly InstalledPlugin[]) {
    const list = missing.map((plugin) => `${plugin.name} ${plugin.version}`).join(', ');
    super('EPLUGIN_MISSING', 'generic', `provider plugin${missing.length === 1 ? '' : 's'} ${list} not installed in ${pluginDir}: ${INSTALL_HINT}` +
      ' (with FELHOM_ENGINE_MIRROR naming an engine mirror where the download sites are out of reach; docs/engine.md)');
    this.missing = missing;
  }
}

/** The folder holding felhom's package.json, found upward from this module (source or dist). */
export function findProjectRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(start);
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'felhom-infra') return dir;
      } catch {
        // an unreadable package.json is not ours; keep looking upward
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new EngineNotInstalledError(start, 'no felhom project found above this module');
    dir = parent;
  }
}

/**
 * Plugin directory entries look like `resource-random-v4.21.2`. Pulumi marks an install under
 * way with a `<entry>.partial` file beside it and keeps a `<entry>.lock` beside every installed
 * plugin for good, so only `.partial` means unfinished.
 */
async function listPlugins(pluginDir: string): Promise<InstalledPlugin[]> {
  let entries: string[];
  try {
    entries = await readdir(pluginDir);
  } catch {
    return [];
  }
  const plugins: InstalledPlugin[] = [];
  for (const entry of entries) {
    const match = /^resource-(.+)-v(\d+\.\d+\.\d+(?:[-+][\w.-]+)?)$/.exec(entry);
    if (!match || entries.includes(`${entry}.partial`)) continue;
    const [, name, version] = match as unknown as [string, string, string];
    try {
      await access(join(pluginDir, entry, `pulumi-resource-${name}`), fsConstants.X_OK);
      plugins.push({ name, version });
    } catch {
      // a directory without its executable is a failed install; it does not count
    }
  }
  return plugins.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

/**
 * The environment the CLI and its plugins run with. PATH starts with the engine's bin (its
 * language hosts when it came from a release archive), this Node (the dynamic-provider plugin
 * `pulumi-resource-pulumi-nodejs` is a shell script calling `node`) and @pulumi/pulumi's folder
 * (where that script lives); NODE_PATH lets the script resolve @pulumi/pulumi from any work dir.
 */
function engineEnv(root: string, projectRoot: string | undefined): EngineEnv {
  const pathEntries = [join(root, 'bin'), dirname(process.execPath)];
  const nodePath: string[] = [];
  if (projectRoot) {
    pathEntries.push(join(projectRoot, 'node_modules', '@pulumi', 'pulumi'));
    nodePath.push(join(projectRoot, 'node_modules'));
  }
  if (process.env.PATH) pathEntries.push(process.env.PATH);
  if (process.env.NODE_PATH) nodePath.push(process.env.NODE_PATH);
  return {
    PULUMI_HOME: root,
    PATH: pathEntries.join(delimiter),
    ...(nodePath.length ? { NODE_PATH: nodePath.join(delimiter) } : {}),
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    // Plugins come from `npm run engine:install` only: a missing one fails at once with its name
    // instead of a download attempt that cannot reach its site from here.
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
  };
}

/**
 * Finds the installed engine and checks that it runs. Throws EngineNotInstalledError (code
 * EENGINE_MISSING) with the install command when it is absent or broken.
 */
export async function locateEngine(options: LocateEngineOptions = {}): Promise<LocatedEngine> {
  const fromEnv = process.env.FELHOM_ENGINE_HOME;
  let projectRoot: string | undefined = options.projectRoot ? resolve(options.projectRoot) : undefined;
  let root: string;
  if (options.engineHome) root = resolve(options.engineHome);
  else if (fromEnv) root = resolve(fromEnv);
  else if (projectRoot) root = join(projectRoot, '.engine');
  else {
    projectRoot = findProjectRoot();
    root = join(projectRoot, '.engine');
  }
  if (!projectRoot) {
    try {
      projectRoot = findProjectRoot();
    } catch {
      projectRoot = undefined; // an engine outside any project runs without the dynamic-provider helpers
    }
  }

  const pulumiPath = join(root, 'bin', 'pulumi');
  try {
    await access(pulumiPath, fsConstants.X_OK);
  } catch (cause) {
    throw new EngineNotInstalledError(root, `${pulumiPath} is missing or not executable`, { cause });
  }
  const env = engineEnv(root, projectRoot);
  let version: string;
  try {
    const { stdout } = await execFileAsync(pulumiPath, ['version'], { env: { ...process.env, ...env }, timeout: 30_000 });
    version = stdout.trim();
  } catch (cause) {
    throw new EngineNotInstalledError(root, `${pulumiPath} does not run`, { cause });
  }
  if (!/^v?\d+\.\d+\.\d+/.test(version)) {
    throw new EngineNotInstalledError(root, `${pulumiPath} reports version "${version}"`);
  }
  const pluginDir = join(root, 'plugins');
  return { root, pulumiPath, version, pluginDir, plugins: await listPlugins(pluginDir), env };
}

/**
 * Checks that every named plugin is installed at exactly the version given, and throws
 * PluginNotInstalledError (code EPLUGIN_MISSING) listing all that are not.
 */
export function requirePlugins(engine: LocatedEngine, wanted: readonly InstalledPlugin[]): void {
  const missing = wanted.filter((plugin) =>
    !engine.plugins.some((have) => have.name === plugin.name && have.version === plugin.version.replace(/^v/, '')));
  if (missing.length) throw new PluginNotInstalledError(engine.pluginDir, missing);
}

/** The resource plugin an installed npm provider SDK asks for, from its package.json "pulumi" block. */
export async function pluginRequestedBy(sdkPackage: string, projectRoot: string = findProjectRoot()): Promise<InstalledPlugin> {
  const manifestPath = join(projectRoot, 'node_modules', ...sdkPackage.split('/'), 'package.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { pulumi?: { resource?: boolean; name?: string; version?: string } };
  const block = manifest.pulumi;
  if (!block?.resource || !block.name || !block.version) {
    throw new Error(`${sdkPackage} does not name a resource plugin in its package.json "pulumi" block`);
  }
  return { name: block.name, version: block.version.replace(/^v/, '') };
}
