#!/usr/bin/env node
// Installs the pinned Pulumi CLI and the provider plugins the installed npm SDKs ask for
// into the project-local, git-ignored `.engine/` (laid out like ~/.pulumi: `.engine/bin/pulumi`,
// `.engine/plugins/`), so the runner can find them without anyone touching PATH.
//
// Plain ESM JavaScript on purpose: it runs before `npm run build`, with nothing but Node.
//
// Each step tries the cheapest source first and says which one it used:
//   CLI:     project .engine → `pulumi` on PATH (>= pinned) → machine cache → official release
//            archive (10 s reachability probe) → `go build` of the wrapper module engine/pulumi.
//   plugins: project .engine → machine cache → `pulumi plugin install` (10 s probe) → `go build`
//            of the provider's Go module.
// Built or downloaded binaries are kept in a machine cache outside the project
// (~/.cache/felhom/engine, keyed by version and inputs hash) so that a fresh clone, which is what
// CI runs in, installs by copying. Builds run one at a time under `nice`: the machine has 2 cores.
//
// Usage: node engine/install.mjs [--cli-only] [--require-plugins] [--only name[,name]]
// Exit: 0 when the CLI is installed (missing plugins are listed, not fatal, unless
//       --require-plugins); 1 when the CLI cannot be had or a required plugin is missing.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, copyFile, cp, mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile, lstat, unlink } from 'node:fs/promises';
import { homedir, tmpdir, arch as osArch, platform as osPlatform } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const engineHome = join(projectRoot, '.engine');
const engineBin = join(engineHome, 'bin');
const pluginDir = join(engineHome, 'plugins');
const wrapperModuleDir = join(projectRoot, 'engine', 'pulumi');
const reportPath = join(engineHome, 'install.json');
const PROBE_TIMEOUT_MS = 10_000;
/** Where official CLI releases are published; overridable so tests can point at an unreachable one. */
const releaseBaseUrl = process.env.FELHOM_PULUMI_RELEASES_URL ?? 'https://get.pulumi.com/releases/sdk';

/**
 * Go module and main package of each provider plugin, for building when it cannot be downloaded.
 * `versionVar` is the package variable the provider's Makefile stamps with -ldflags.
 * `localReplaces` marks modules whose go.mod points outside the module (a git submodule), which a
 * module download cannot satisfy.
 */
const pluginRecipes = {
  command: { module: 'github.com/pulumi/pulumi-command/provider', versionVar: 'github.com/pulumi/pulumi-command/provider/pkg/version.Version' },
  random: { module: 'github.com/pulumi/pulumi-random/provider/v4', versionVar: 'github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version' },
  docker: { module: 'github.com/pulumi/pulumi-docker/provider/v4', versionVar: 'github.com/pulumi/pulumi-docker/provider/v4/pkg/version.Version', localReplaces: true },
  proxmoxve: { module: 'github.com/muhlba91/pulumi-proxmoxve/provider', versionVar: 'github.com/muhlba91/pulumi-proxmoxve/provider/pkg/version.Version' },
  cloudflare: { module: 'github.com/pulumi/pulumi-cloudflare/provider/v6', versionVar: 'github.com/pulumi/pulumi-cloudflare/provider/v6/pkg/version.Version' },
};
/** Small builds first, so the plugins the tests need arrive before the big ones. */
const pluginOrder = ['command', 'random', 'docker', 'proxmoxve', 'cloudflare'];

class InstallError extends Error {
  constructor(message) {
    super(message);
    this.name = 'InstallError';
  }
}

// ---------------------------------------------------------------------------------------------
// small helpers

const started = Date.now();
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const say = (line) => process.stdout.write(`[engine] ${line}\n`);

async function exists(path) {
  try {
    await access(path, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

async function isExecutable(path) {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a command without a shell and collects its output. Output is never echoed: a failure
 * shows only the last lines of stderr, which for go and pulumi name modules and hosts, not secrets.
 */
function run(command, args, { cwd, env, timeoutMs } = {}) {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = timeoutMs ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs) : undefined;
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolveRun({ code: -1, stdout, stderr: String(error.message), timedOut });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? -1, stdout, stderr, timedOut });
    });
  });
}

function lastLines(text, count = 4) {
  return text.trim().split('\n').slice(-count).map(oneLine).join(' | ');
}

function oneLine(text) {
  return text.replace(/\s+/g, ' ').trim();
}

async function sha256OfFiles(paths) {
  const hash = createHash('sha256');
  for (const path of paths) hash.update(await readFile(path));
  return hash.digest('hex').slice(0, 16);
}

/** "v3.274.1" or "3.274.1" → [3, 274, 1]; pre-release suffixes are ignored. */
function parseVersion(text) {
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return match ? match.slice(1, 4).map(Number) : undefined;
}

function versionAtLeast(have, want) {
  for (let i = 0; i < 3; i += 1) {
    if (have[i] !== want[i]) return have[i] > want[i];
  }
  return true;
}

async function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (resolve(candidate).startsWith(engineHome)) continue;
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Probes a URL with a short timeout, so an unreachable download site costs seconds, not minutes. */
async function reachable(url) {
  try {
    const response = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), redirect: 'manual' });
    return { ok: response.status < 500, reason: `HTTP ${response.status}` };
  } catch (error) {
    const cause = error?.cause?.code ?? error?.cause?.message ?? error?.name ?? 'error';
    return { ok: false, reason: `${new URL(url).host} unreachable (${cause})` };
  }
}

function machineCacheRoot() {
  if (process.env.FELHOM_ENGINE_CACHE) return resolve(process.env.FELHOM_ENGINE_CACHE);
  const base = process.env.XDG_CACHE_HOME ? resolve(process.env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(base, 'felhom', 'engine');
}

/** Copies into place through a temporary name, so a killed install never leaves half a binary. */
async function installFile(source, target) {
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  await copyFile(source, partial);
  await chmod(partial, 0o755);
  await rename(partial, target);
}

async function goAvailable() {
  const result = await run('go', ['version']);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

function goEnv(extra = {}) {
  // GOFLAGS from the machine may carry -mod=vendor or similar; the wrapper module wants its go.sum.
  return { ...process.env, GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0', ...extra };
}

function niced(command, args) {
  return ['nice', ['-n', '10', command, ...args]];
}

const goPlatform = () => `${osPlatform()}-${osArch() === 'x64' ? 'amd64' : osArch()}`;

// ---------------------------------------------------------------------------------------------
// the CLI

async function pinnedCliVersion() {
  const goMod = await readFile(join(wrapperModuleDir, 'go.mod'), 'utf8');
  const match = /github\.com\/pulumi\/pulumi\/pkg\/v3 (v\d+\.\d+\.\d+)/.exec(goMod);
  if (!match) throw new InstallError('engine/pulumi/go.mod does not require github.com/pulumi/pulumi/pkg/v3 at a version');
  return match[1];
}

async function reportedVersion(pulumiPath) {
  const result = await run(pulumiPath, ['version'], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: '1' }, timeoutMs: 30_000 });
  return result.code === 0 ? result.stdout.trim() : undefined;
}

async function linkCli(target) {
  await mkdir(engineBin, { recursive: true });
  const link = join(engineBin, 'pulumi');
  if (await lstat(link).then(() => true, () => false)) await unlink(link);
  await symlink(target, link);
}

async function downloadCli(version, cacheDir) {
  const archive = `pulumi-${version}-${osPlatform()}-${osArch()}.tar.gz`;
  const url = `${releaseBaseUrl}/${archive}`;
  const probe = await reachable(url);
  if (!probe.ok) return { ok: false, reason: probe.reason };
  const work = await mkdtemp(join(tmpdir(), 'felhom-pulumi-'));
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(300_000) });
    if (!response.ok) return { ok: false, reason: `download ${archive}: HTTP ${response.status}` };
    await writeFile(join(work, archive), Buffer.from(await response.arrayBuffer()));
    const untar = await run('tar', ['-xzf', archive], { cwd: work });
    if (untar.code !== 0) return { ok: false, reason: `unpacking ${archive}: ${lastLines(untar.stderr)}` };
    // The archive holds pulumi plus its language hosts; keep them together so the CLI finds them.
    await mkdir(join(cacheDir, 'bin'), { recursive: true });
    for (const name of await readdir(join(work, 'pulumi'))) {
      await installFile(join(work, 'pulumi', name), join(cacheDir, 'bin', name));
    }
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `download ${archive}: ${error.message}` };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function buildCli(version, cacheDir) {
  const go = await goAvailable();
  if (!go) return { ok: false, reason: 'go is not installed' };
  say(`cli: building pulumi ${version} from its Go module with ${go.replace('go version ', '')} (a few minutes on first build)`);
  const output = join(cacheDir, 'bin', `pulumi.partial-${process.pid}`);
  await mkdir(dirname(output), { recursive: true });
  const [command, args] = niced('go', [
    'build', '-trimpath',
    '-ldflags', `-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}`,
    '-o', output,
    'github.com/pulumi/pulumi/pkg/v3/cmd/pulumi',
  ]);
  const result = await run(command, args, { cwd: wrapperModuleDir, env: goEnv() });
  if (result.code !== 0) {
    await rm(output, { force: true });
    return { ok: false, reason: `go build failed: ${lastLines(result.stderr)}` };
  }
  await rename(output, join(cacheDir, 'bin', 'pulumi'));
  return { ok: true };
}

async function installCli() {
  const stepStart = Date.now();
  const version = await pinnedCliVersion();
  const want = parseVersion(version);
  const projectCli = join(engineBin, 'pulumi');

  const current = await reportedVersion(projectCli);
  if (current && versionAtLeast(parseVersion(current), want)) {
    say(`cli: pulumi ${current} already in .engine (${seconds(stepStart)})`);
    return { version: current, source: 'project' };
  }

  const onPath = await findOnPath('pulumi');
  if (onPath) {
    const pathVersion = await reportedVersion(onPath);
    if (pathVersion && versionAtLeast(parseVersion(pathVersion), want)) {
      await linkCli(onPath);
      say(`cli: using pulumi ${pathVersion} from PATH (${onPath}) (${seconds(stepStart)})`);
      return { version: pathVersion, source: `path:${onPath}` };
    }
    say(`cli: pulumi on PATH is ${pathVersion ?? 'unusable'}, older than ${version}; not used`);
  }

  const inputsHash = await sha256OfFiles(['go.mod', 'go.sum', 'tools.go'].map((name) => join(wrapperModuleDir, name)));
  const cacheDir = join(machineCacheRoot(), `pulumi-${version}-${goPlatform()}-${inputsHash}`);
  const cachedCli = join(cacheDir, 'bin', 'pulumi');
  let source = 'machine-cache';
  if (!(await reportedVersion(cachedCli))) {
    const reasons = [];
    const downloaded = await downloadCli(version, cacheDir);
    if (downloaded.ok) {
      source = 'download';
    } else {
      reasons.push(`official release: ${downloaded.reason}`);
      say(`cli: official release not reachable (${downloaded.reason}); building from source instead`);
      const built = await buildCli(version, cacheDir);
      if (!built.ok) {
        reasons.push(`Go build: ${built.reason}`);
        throw new InstallError(
          `cannot install the Pulumi CLI ${version}: no pulumi >= ${version} on PATH; ${reasons.join('; ')}. ` +
          `Install Go (>= 1.26) or Pulumi ${version}, then run \`npm run engine:install\` again.`,
        );
      }
      source = 'go-build';
    }
  }

  // Copy every file of the cached install (the CLI, and language hosts when downloaded).
  for (const name of await readdir(join(cacheDir, 'bin'))) {
    if (name.includes('.partial-')) continue;
    const target = join(engineBin, name);
    if (await lstat(target).then((s) => s.isSymbolicLink(), () => false)) await unlink(target);
    await installFile(join(cacheDir, 'bin', name), target);
  }
  const installed = await reportedVersion(projectCli);
  if (!installed || !versionAtLeast(parseVersion(installed), want)) {
    throw new InstallError(`the installed CLI reports ${installed ?? 'nothing'} instead of ${version}; remove ${cacheDir} and run again`);
  }
  say(`cli: pulumi ${installed} installed from ${source} (${seconds(stepStart)})`);
  return { version: installed, source };
}

// ---------------------------------------------------------------------------------------------
// provider plugins

/** The resource plugins the installed npm SDKs request, from each package.json's "pulumi" block. */
async function requestedPlugins() {
  const manifest = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8'));
  const plugins = [];
  for (const dependency of Object.keys(manifest.dependencies ?? {})) {
    const packageJsonPath = join(projectRoot, 'node_modules', dependency, 'package.json');
    if (!(await exists(packageJsonPath))) continue;
    const block = JSON.parse(await readFile(packageJsonPath, 'utf8')).pulumi;
    if (block?.resource !== true || !block.name || !block.version) continue;
    plugins.push({ name: block.name, version: block.version.replace(/^v/, ''), server: block.server, sdk: dependency });
  }
  const rank = (name) => (pluginOrder.includes(name) ? pluginOrder.indexOf(name) : pluginOrder.length);
  return plugins.sort((a, b) => rank(a.name) - rank(b.name));
}

function pulumiEnv() {
  return { ...process.env, PULUMI_HOME: engineHome, PULUMI_SKIP_UPDATE_CHECK: '1' };
}

function pluginInstallDir(plugin) {
  return join(pluginDir, `resource-${plugin.name}-v${plugin.version}`);
}

function pluginBinaryName(plugin) {
  return `pulumi-resource-${plugin.name}`;
}

async function pluginInstalled(plugin) {
  const dir = pluginInstallDir(plugin);
  // `pulumi plugin install` writes a .lock while it works and removes it when done.
  return (await isExecutable(join(dir, pluginBinaryName(plugin)))) && !(await exists(`${dir}.lock`));
}

async function registerPluginBinary(plugin, binary) {
  const result = await run(join(engineBin, 'pulumi'), ['plugin', 'install', 'resource', plugin.name, plugin.version, '--file', binary], { env: pulumiEnv(), timeoutMs: 120_000 });
  if (result.code !== 0) throw new InstallError(`pulumi plugin install --file for ${plugin.name} ${plugin.version} failed: ${lastLines(result.stderr)}`);
}

async function downloadPlugin(plugin) {
  const probeUrl = plugin.server?.startsWith('github://')
    ? `https://${plugin.server.slice('github://'.length).split('/')[0]}/`
    : 'https://get.pulumi.com/';
  const probe = await reachable(probeUrl);
  if (!probe.ok) return { ok: false, reason: probe.reason };
  const args = ['plugin', 'install', 'resource', plugin.name, plugin.version];
  if (plugin.server) args.push('--server', plugin.server);
  const result = await run(join(engineBin, 'pulumi'), args, { env: pulumiEnv(), timeoutMs: 600_000 });
  if (result.code !== 0) return { ok: false, reason: `pulumi plugin install: ${result.timedOut ? 'timed out' : lastLines(result.stderr, 2)}` };
  return { ok: true };
}

/**
 * Builds a provider from its Go module: downloads the module at the SDK's version, copies it out of
 * the read-only module cache, makes the minified schema the bridged providers embed, and builds
 * cmd/pulumi-resource-<name> with the version stamped the way the provider's Makefile does.
 */
async function buildPlugin(plugin, output) {
  const recipe = pluginRecipes[plugin.name];
  if (!recipe) return { ok: false, reason: 'no Go build recipe for this provider' };
  if (!(await goAvailable())) return { ok: false, reason: 'go is not installed' };
  const moduleVersion = `${recipe.module}@v${plugin.version}`;
  const work = await mkdtemp(join(tmpdir(), `felhom-plugin-${plugin.name}-`));
  try {
    const download = await run('go', ['mod', 'download', '-json', moduleVersion], { cwd: work, env: goEnv(), timeoutMs: 600_000 });
    if (download.code !== 0) {
      let reason = lastLines(download.stderr, 2);
      try { reason = JSON.parse(download.stdout).Error ?? reason; } catch { /* plain stderr is the reason */ }
      return { ok: false, reason: `go mod download ${moduleVersion}: ${oneLine(reason)}` };
    }
    if (recipe.localReplaces) {
      return { ok: false, reason: `${moduleVersion} replaces its upstream with a local git submodule (../upstream), which a module download does not contain` };
    }
    const moduleDir = join(work, 'module');
    await cp(JSON.parse(download.stdout).Dir, moduleDir, { recursive: true });
    await run('chmod', ['-R', 'u+w', moduleDir]);
    const mainDir = join(moduleDir, 'cmd', pluginBinaryName(plugin));
    const schema = join(mainDir, 'schema.json');
    if ((await exists(schema)) && !(await exists(join(mainDir, 'schema-embed.json')))) {
      await writeFile(join(mainDir, 'schema-embed.json'), JSON.stringify(JSON.parse(await readFile(schema, 'utf8'))));
    }
    say(`plugin ${plugin.name}: building ${moduleVersion}`);
    const [command, args] = niced('go', ['build', '-trimpath', '-ldflags', `-s -w -X ${recipe.versionVar}=${plugin.version}`, '-o', output, `./cmd/${pluginBinaryName(plugin)}`]);
    const build = await run(command, args, { cwd: moduleDir, env: goEnv({ GOFLAGS: '-buildvcs=false -mod=mod' }) });
    if (build.code !== 0) return { ok: false, reason: `go build ${moduleVersion}: ${lastLines(build.stderr)}` };
    return { ok: true };
  } finally {
    await run('chmod', ['-R', 'u+w', work]);
    await rm(work, { recursive: true, force: true });
  }
}

async function installPlugin(plugin) {
  const stepStart = Date.now();
  const label = `plugin ${plugin.name} ${plugin.version}`;
  if (await pluginInstalled(plugin)) {
    say(`${label}: already in .engine (${seconds(stepStart)})`);
    return { ...plugin, installed: true, source: 'project' };
  }
  const cachedBinary = join(machineCacheRoot(), 'plugins', `${plugin.name}-${plugin.version}-${goPlatform()}`, pluginBinaryName(plugin));
  if (await isExecutable(cachedBinary)) {
    await registerPluginBinary(plugin, cachedBinary);
    say(`${label}: installed from machine cache (${seconds(stepStart)})`);
    return { ...plugin, installed: true, source: 'machine-cache' };
  }

  const reasons = [];
  const downloaded = await downloadPlugin(plugin);
  if (downloaded.ok) {
    await installFile(join(pluginInstallDir(plugin), pluginBinaryName(plugin)), cachedBinary);
    say(`${label}: downloaded (${seconds(stepStart)})`);
    return { ...plugin, installed: true, source: 'download' };
  }
  reasons.push(`download: ${downloaded.reason}`);

  const partial = `${cachedBinary}.partial-${process.pid}`;
  await mkdir(dirname(cachedBinary), { recursive: true });
  const built = await buildPlugin(plugin, partial);
  if (built.ok) {
    await rename(partial, cachedBinary);
    await registerPluginBinary(plugin, cachedBinary);
    say(`${label}: built from its Go module (${seconds(stepStart)})`);
    return { ...plugin, installed: true, source: 'go-build' };
  }
  await rm(partial, { force: true });
  reasons.push(`Go build: ${built.reason}`);
  say(`${label}: UNAVAILABLE (${seconds(stepStart)})`);
  for (const reason of reasons) say(`  - ${reason}`);
  return { ...plugin, installed: false, reasons };
}

// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = { cliOnly: false, requirePlugins: false, only: undefined };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--cli-only') options.cliOnly = true;
    else if (arg === '--require-plugins') options.requirePlugins = true;
    else if (arg === '--only') options.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (arg.startsWith('--only=')) options.only = arg.slice('--only='.length).split(',').filter(Boolean);
    else throw new InstallError(`unknown option ${arg}; expected --cli-only, --require-plugins or --only name[,name]`);
  }
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  say(`installing into ${engineHome} (machine cache ${machineCacheRoot()})`);
  await mkdir(pluginDir, { recursive: true });
  const cli = await installCli();

  const plugins = [];
  if (!options.cliOnly) {
    let wanted = await requestedPlugins();
    if (options.only) wanted = wanted.filter((plugin) => options.only.includes(plugin.name));
    for (const plugin of wanted) plugins.push(await installPlugin(plugin));
  }

  const report = {
    cli: { version: cli.version, source: cli.source, path: join(engineBin, 'pulumi') },
    pulumiHome: engineHome,
    plugins: plugins.map(({ name, version, installed, source, reasons }) => ({ name, version, installed, source, reasons })),
    finishedAt: new Date().toISOString(),
  };
  await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);

  const missing = plugins.filter((plugin) => !plugin.installed);
  const have = plugins.filter((plugin) => plugin.installed).map((plugin) => plugin.name);
  say(`done in ${seconds(started)}: pulumi ${cli.version}; plugins installed: ${have.join(', ') || 'none'}` +
    (missing.length ? `; unavailable: ${missing.map((plugin) => plugin.name).join(', ')}` : ''));
  if (missing.length && options.requirePlugins) {
    throw new InstallError(`required plugins unavailable: ${missing.map((plugin) => `${plugin.name} ${plugin.version}`).join(', ')}`);
  }
}

main().catch((error) => {
  const message = error instanceof InstallError ? error.message : `unexpected failure: ${error?.stack ?? error}`;
  process.stderr.write(`[engine] FAILED after ${seconds(started)}: ${message}\n`);
  process.exitCode = 1;
});
