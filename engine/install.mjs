#!/usr/bin/env node
// Installs the pinned Pulumi CLI and the plugins engine/plugins.json pins into the project-local,
// git-ignored `.engine/` (or $FELHOM_ENGINE_HOME; laid out like ~/.pulumi: `bin/pulumi`,
// `plugins/`), so the runner can find them without anyone touching PATH.
//
// Plain ESM JavaScript on purpose: it runs before `npm run build`, with nothing but Node.
//
// The project finds and verifies plugins; it never builds them. Each step tries its sources in
// order and says which one it used:
//   CLI:     installed in the engine home → `pulumi` on PATH (>= pinned) → engine mirror →
//            machine cache → official release archive (10 s reachability probe) → `go build` of
//            the wrapper module engine/pulumi.
//   plugins: installed in the engine home at the pinned version → engine mirror
//            (FELHOM_ENGINE_MIRROR or --mirror: a folder or an http(s) URL in Pulumi's archive
//            names, with a SHA256SUMS) → official downloads (10 s probe) → the machine's plugin
//            cache (~/.pulumi/plugins, $PULUMI_HOME/plugins).
// Every archive is checked against its digest before it is installed: the one engine/plugins.json
// pins, or where that is unknown, the one the mirror's SHA256SUMS lists. A mismatch is refused,
// naming both digests, and fails the install. Every plugin's own version is checked too
// (`pulumi package get-schema <binary>` reports it) before it is installed.
//
// Usage: node engine/install.mjs [--cli-only] [--plugins-only] [--require-plugins] [--only name[,name]]
//                                [--mirror <dir|url>] [--mirror-only]
//        node engine/install.mjs mirror --out <dir> [--only name[,name]]
//          packs the installed CLI and plugins into a mirror folder (Pulumi's archive names,
//          SHA256SUMS), to seed an operator's mirror or `felhom hub serve --engine-mirror`.
// Exit: 0 when the CLI is installed (missing plugins are listed, not fatal, unless
//       --require-plugins); 1 when the CLI cannot be had, a required plugin is missing, or an
//       archive or plugin failed its check.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, copyFile, mkdir, mkdtemp, readFile, readdir, realpath, rename, rm, stat, symlink, writeFile, lstat, unlink } from 'node:fs/promises';
import { homedir, tmpdir, arch as osArch, platform as osPlatform } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const engineHome = process.env.FELHOM_ENGINE_HOME ? resolve(process.env.FELHOM_ENGINE_HOME) : join(projectRoot, '.engine');
const engineBin = join(engineHome, 'bin');
const pluginDir = join(engineHome, 'plugins');
const wrapperModuleDir = join(projectRoot, 'engine', 'pulumi');
const pinsPath = join(projectRoot, 'engine', 'plugins.json');
const reportPath = join(engineHome, 'install.json');
const PROBE_TIMEOUT_MS = 10_000;
const DOWNLOAD_TIMEOUT_MS = 900_000;
/** How often a long step says it is still working. */
const HEARTBEAT_MS = Number(process.env.FELHOM_ENGINE_HEARTBEAT_MS) || 20_000;
/** Where official CLI releases are published; overridable so tests can point at an unreachable one. */
const releaseBaseUrl = process.env.FELHOM_PULUMI_RELEASES_URL ?? 'https://get.pulumi.com/releases/sdk';
/** Where official plugin archives are published; unset: get.pulumi.com, or the plugin's GitHub releases. */
const pluginReleaseBaseUrl = process.env.FELHOM_PLUGIN_RELEASES_URL;
const SUMS_FILE = 'SHA256SUMS';

class InstallError extends Error {
  constructor(message) {
    super(message);
    this.name = 'InstallError';
  }
}

/** An archive or a plugin that failed its check: never installed, always fatal. */
class RefusedError extends InstallError {
  constructor(message, details) {
    super(message);
    this.name = 'RefusedError';
    this.details = details;
  }
}

// ---------------------------------------------------------------------------------------------
// small helpers

const started = Date.now();
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const say = (line) => process.stdout.write(`[engine] ${line}\n`);
const mib = (bytes) => (bytes / 1048576).toFixed(1);
const sha256Hex = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Says every HEARTBEAT_MS what a long step is doing and for how long; `stop()` ends it. */
function heartbeat(describe) {
  const since = Date.now();
  const timer = setInterval(() => say(`${describe()}: still working (${seconds(since)})`), HEARTBEAT_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

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
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Runs a command without a shell and collects its output. Output is never echoed: a failure
 * shows only the last lines of stderr, which for go and pulumi name modules and hosts, not secrets.
 * `beat` names the step for the heartbeat lines of a long run.
 */
function run(command, args, { cwd, env, timeoutMs, beat } = {}) {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const pulse = beat ? heartbeat(() => beat) : undefined;
    const stdout = [];
    let stderr = '';
    let timedOut = false;
    const timer = timeoutMs ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs) : undefined;
    child.stdout.on('data', (chunk) => { stdout.push(chunk); });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const finish = (code, error) => {
      clearTimeout(timer);
      pulse?.stop();
      resolveRun({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: error ? String(error.message) : stderr, timedOut });
    };
    child.on('error', (error) => finish(-1, error));
    child.on('close', (code) => finish(code ?? -1));
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

/**
 * GETs a URL into memory, saying every HEARTBEAT_MS how much has arrived.
 * Returns { status, bytes } (bytes only for 200).
 */
async function download(url, { headers = {}, label }) {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  if (response.status !== 200) {
    await response.body?.cancel();
    return { status: response.status };
  }
  const total = Number(response.headers.get('content-length')) || undefined;
  const chunks = [];
  let received = 0;
  const pulse = heartbeat(() => `${label}: ${mib(received)}${total ? ` of ${mib(total)}` : ''} MiB`);
  try {
    for await (const chunk of response.body) {
      chunks.push(chunk);
      received += chunk.length;
    }
  } finally {
    pulse.stop();
  }
  return { status: 200, bytes: Buffer.concat(chunks) };
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

const goArch = () => (osArch() === 'x64' ? 'amd64' : osArch());
/** `linux-amd64`: the platform in plugin archive names and the machine cache. */
const pluginPlatform = () => `${osPlatform()}-${goArch()}`;
/** `linux-x64`: the platform in CLI release archive names. */
const cliPlatform = () => `${osPlatform()}-${osArch()}`;

/** Unpacks a .tar.gz held in memory into a new temporary folder and returns the folder. */
async function unpack(bytes, name) {
  const work = await mkdtemp(join(tmpdir(), 'felhom-engine-unpack-'));
  const archive = join(work, name);
  await writeFile(archive, bytes);
  const contents = join(work, 'contents');
  await mkdir(contents);
  const untar = await run('tar', ['-xzf', archive, '-C', contents, '--no-same-owner']);
  if (untar.code !== 0) {
    await rm(work, { recursive: true, force: true });
    throw new RefusedError(`${name} is not a gzip'd tar archive: ${lastLines(untar.stderr)}`, { archive: name });
  }
  return { work, archive, contents };
}

/** Packs the named files of `dir` into a gzip'd tar at `target`, the same bytes every time. */
async function pack(dir, names, target) {
  const tarFile = `${target}.tar-${process.pid}`;
  const result = await run('tar', ['--sort=name', '--dereference', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', dir, '-cf', tarFile, ...names]);
  if (result.code !== 0) throw new InstallError(`packing ${target}: ${lastLines(result.stderr)}`);
  // Node's gzip writes no name and no time: the digest depends on the contents only.
  await writeFile(`${target}.partial-${process.pid}`, gzipSync(await readFile(tarFile)));
  await rm(tarFile, { force: true });
  await rename(`${target}.partial-${process.pid}`, target);
}

// ---------------------------------------------------------------------------------------------
// the pins and the mirror

const DIGEST = /^[0-9a-f]{64}$/;

/** engine/plugins.json, checked: a wrong entry fails the install naming it. */
async function loadPins() {
  let pins;
  try {
    pins = JSON.parse(await readFile(pinsPath, 'utf8'));
  } catch (error) {
    throw new InstallError(`cannot read ${pinsPath}: ${error.message}`);
  }
  const bad = (where, what) => new InstallError(`${pinsPath}: ${where}: ${what}`);
  const checkDigests = (where, digests) => {
    if (digests === null || typeof digests !== 'object') throw bad(`${where}.sha256`, 'expected an object of os-arch → sha256 hex or null');
    for (const [platform, digest] of Object.entries(digests)) {
      if (digest !== null && !DIGEST.test(digest)) throw bad(`${where}.sha256.${platform}`, `expected 64 lower-case hex digits or null, got ${JSON.stringify(digest)}`);
    }
  };
  if (typeof pins?.cli?.version !== 'string' || !/^v\d+\.\d+\.\d+$/.test(pins.cli.version)) throw bad('cli.version', 'expected "v<major>.<minor>.<patch>"');
  checkDigests('cli', pins.cli.sha256);
  if (!Array.isArray(pins.plugins)) throw bad('plugins', 'expected an array');
  pins.plugins.forEach((plugin, index) => {
    const where = `plugins[${index}]`;
    if (!['resource', 'language'].includes(plugin?.kind)) throw bad(`${where}.kind`, 'expected "resource" or "language"');
    if (typeof plugin.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(plugin.name)) throw bad(`${where}.name`, 'expected a plugin name');
    if (typeof plugin.version !== 'string' || !/^\d+\.\d+\.\d+$/.test(plugin.version)) throw bad(`${where}.version`, 'expected "<major>.<minor>.<patch>"');
    checkDigests(where, plugin.sha256);
  });
  return pins;
}

const pluginLabel = (plugin) => `${plugin.kind === 'language' ? 'language ' : ''}plugin ${plugin.name} ${plugin.version}`;
const pluginEntry = (plugin) => `${plugin.kind}-${plugin.name}-v${plugin.version}`;
const pluginBinaryName = (plugin) => `pulumi-${plugin.kind}-${plugin.name}`;
const pluginArchive = (plugin) => `pulumi-${plugin.kind}-${plugin.name}-v${plugin.version}-${pluginPlatform()}.tar.gz`;
const cliArchive = (version) => `pulumi-${version}-${cliPlatform()}.tar.gz`;

/** `<hex>  <name>` lines (sha256sum's format, `*` binary marker allowed) → Map name → hex. */
function parseSums(text) {
  const sums = new Map();
  for (const line of text.split('\n')) {
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trim());
    if (match) sums.set(match[2], match[1].toLowerCase());
  }
  return sums;
}

/**
 * An engine mirror: a folder (or file:// URL) or an http(s) URL holding archives under Pulumi's
 * names and a SHA256SUMS. `get(name)` returns the bytes, or undefined when the mirror has no such
 * file. FELHOM_ENGINE_MIRROR_TOKEN, when set, goes as a bearer token (a hub takes the box's key).
 */
function openMirror(location) {
  const token = process.env.FELHOM_ENGINE_MIRROR_TOKEN;
  let get;
  let label;
  if (/^https?:\/\//i.test(location)) {
    const base = new URL(location.endsWith('/') ? location : `${location}/`);
    base.username = '';
    base.password = '';
    label = base.href;
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    get = async (name) => {
      let result;
      try {
        result = await download(new URL(name, base), { headers, label: `mirror: ${name}` });
      } catch (error) {
        throw new InstallError(`mirror ${label} unreachable: ${error?.cause?.code ?? error.message}`);
      }
      if (result.status === 404) return undefined;
      if (result.status === 401 || result.status === 403) throw new InstallError(`mirror ${label} refused the request for ${name} (HTTP ${result.status}): check FELHOM_ENGINE_MIRROR_TOKEN`);
      if (result.status !== 200) throw new InstallError(`mirror ${label}: ${name}: HTTP ${result.status}`);
      return result.bytes;
    };
  } else {
    const dir = location.startsWith('file://') ? fileURLToPath(location) : resolve(location);
    label = dir;
    get = async (name) => {
      try {
        return await readFile(join(dir, name));
      } catch (error) {
        if (error.code === 'ENOENT') return undefined;
        throw new InstallError(`mirror ${dir}: ${name}: ${error.message}`);
      }
    };
  }
  let sums;
  return {
    label,
    get,
    async sums() {
      sums ??= get(SUMS_FILE).then((bytes) => parseSums(bytes ? bytes.toString('utf8') : ''));
      return sums;
    },
  };
}

/**
 * Checks an archive's bytes before anything is unpacked: against the pinned digest when there is
 * one, else against the digest its source lists. Returns how it was checked; throws RefusedError
 * naming both digests.
 */
function checkDigest({ name, bytes, pinned, listed, source }) {
  const actual = sha256Hex(bytes);
  if (pinned) {
    if (actual !== pinned) {
      throw new RefusedError(`${name} from ${source} has sha256 ${actual}, but engine/plugins.json pins ${pinned}: refused`, { archive: name, source, actual, expected: pinned });
    }
    return { digest: actual, checkedBy: 'engine/plugins.json' };
  }
  if (!listed) {
    throw new RefusedError(`${name} from ${source}: engine/plugins.json has no digest for ${pluginPlatform()} and ${source} lists none in its ${SUMS_FILE}: refused`, { archive: name, source, actual, expected: null });
  }
  if (actual !== listed) {
    throw new RefusedError(`${name} from ${source} has sha256 ${actual}, but its ${SUMS_FILE} lists ${listed}: refused`, { archive: name, source, actual, expected: listed });
  }
  return { digest: actual, checkedBy: SUMS_FILE };
}

// ---------------------------------------------------------------------------------------------
// the CLI

async function pinnedCliVersion(pins) {
  const goMod = await readFile(join(wrapperModuleDir, 'go.mod'), 'utf8');
  const match = /github\.com\/pulumi\/pulumi\/pkg\/v3 (v\d+\.\d+\.\d+)/.exec(goMod);
  if (!match) throw new InstallError('engine/pulumi/go.mod does not require github.com/pulumi/pulumi/pkg/v3 at a version');
  if (pins.cli.version !== match[1]) {
    throw new InstallError(`engine/plugins.json pins the CLI at ${pins.cli.version} but engine/pulumi/go.mod requires ${match[1]}: make them agree`);
  }
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

/** Copies every file of a release-layout `pulumi/` folder (the CLI and any language hosts) into `binDir`. */
async function installCliFolder(folder, binDir) {
  for (const name of await readdir(folder)) {
    if (name.includes('.partial-')) continue;
    const target = join(binDir, name);
    if (await lstat(target).then((s) => s.isSymbolicLink(), () => false)) await unlink(target);
    await installFile(join(folder, name), target);
  }
}

/** The CLI from the mirror: `pulumi-<version>-<os>-<arch>.tar.gz` holding `pulumi/pulumi`. */
async function cliFromMirror(mirror, version, pins) {
  const name = cliArchive(version);
  const bytes = await mirror.get(name);
  if (!bytes) return { ok: false, reason: `${mirror.label} has no ${name}` };
  const check = checkDigest({ name, bytes, pinned: pins.cli.sha256[cliPlatform()] ?? null, listed: (await mirror.sums()).get(name), source: mirror.label });
  const unpacked = await unpack(bytes, name);
  try {
    const folder = join(unpacked.contents, 'pulumi');
    const reported = await reportedVersion(join(folder, 'pulumi'));
    if (reported !== version) {
      throw new RefusedError(`${name} from ${mirror.label} holds a pulumi that reports ${reported ?? 'nothing'} instead of ${version}: refused`, { archive: name, source: mirror.label });
    }
    await mkdir(engineBin, { recursive: true });
    await installCliFolder(folder, engineBin);
    return { ok: true, digest: check };
  } finally {
    await rm(unpacked.work, { recursive: true, force: true });
  }
}

async function downloadCli(version, cacheDir, pins) {
  const archive = `pulumi-${version}-${cliPlatform()}.tar.gz`;
  const url = `${releaseBaseUrl}/${archive}`;
  const probe = await reachable(url);
  if (!probe.ok) return { ok: false, reason: probe.reason };
  try {
    const fetched = await download(url, { label: `cli: downloading ${archive}` });
    if (fetched.status !== 200) return { ok: false, reason: `download ${archive}: HTTP ${fetched.status}` };
    const sums = await download(`${releaseBaseUrl}/pulumi-${version.slice(1)}-checksums.txt`, { label: 'cli: checksums' }).catch(() => ({ status: 0 }));
    checkDigest({ name: archive, bytes: fetched.bytes, pinned: pins.cli.sha256[cliPlatform()] ?? null, listed: sums.bytes ? parseSums(sums.bytes.toString('utf8')).get(archive) : undefined, source: releaseBaseUrl });
    const unpacked = await unpack(fetched.bytes, archive);
    try {
      // The archive holds pulumi plus its language hosts; keep them together so the CLI finds them.
      await mkdir(join(cacheDir, 'bin'), { recursive: true });
      await installCliFolder(join(unpacked.contents, 'pulumi'), join(cacheDir, 'bin'));
    } finally {
      await rm(unpacked.work, { recursive: true, force: true });
    }
    return { ok: true };
  } catch (error) {
    if (error instanceof RefusedError) throw error;
    return { ok: false, reason: `download ${archive}: ${error.message}` };
  }
}

async function buildCli(version, cacheDir) {
  const go = await goAvailable();
  if (!go) return { ok: false, reason: 'go is not installed' };
  say(`cli: building pulumi ${version} from its Go module with ${go.replace('go version ', '')} (a few minutes on first build)`);
  const output = join(cacheDir, 'bin', `pulumi.partial-${process.pid}`);
  await mkdir(dirname(output), { recursive: true });
  const result = await run('nice', [
    '-n', '10', 'go', 'build', '-trimpath',
    '-ldflags', `-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}`,
    '-o', output,
    'github.com/pulumi/pulumi/pkg/v3/cmd/pulumi',
  ], { cwd: wrapperModuleDir, env: goEnv(), beat: `cli: go build of pulumi ${version}` });
  if (result.code !== 0) {
    await rm(output, { force: true });
    return { ok: false, reason: `go build failed: ${lastLines(result.stderr)}` };
  }
  await rename(output, join(cacheDir, 'bin', 'pulumi'));
  return { ok: true };
}

async function installCli(pins, options) {
  const stepStart = Date.now();
  const version = await pinnedCliVersion(pins);
  const want = parseVersion(version);
  const projectCli = join(engineBin, 'pulumi');

  const current = await reportedVersion(projectCli);
  if (current && versionAtLeast(parseVersion(current), want)) {
    say(`cli: pulumi ${current} already in ${engineHome} (${seconds(stepStart)})`);
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

  const reasons = [];
  if (options.mirror) {
    const fromMirror = await cliFromMirror(options.mirror, version, pins);
    if (fromMirror.ok) {
      say(`cli: pulumi ${version} installed from mirror ${options.mirror.label}, sha256 ${fromMirror.digest.digest} checked against ${fromMirror.digest.checkedBy} (${seconds(stepStart)})`);
      return { version, source: `mirror:${options.mirror.label}`, sha256: fromMirror.digest.digest };
    }
    reasons.push(`mirror: ${fromMirror.reason}`);
    say(`cli: ${fromMirror.reason}`);
  }

  const inputsHash = await sha256OfFiles(['go.mod', 'go.sum', 'tools.go'].map((name) => join(wrapperModuleDir, name)));
  const cacheDir = join(machineCacheRoot(), `pulumi-${version}-${pluginPlatform()}-${inputsHash}`);
  const cachedCli = join(cacheDir, 'bin', 'pulumi');
  let source = 'machine-cache';
  if (!(await reportedVersion(cachedCli))) {
    if (options.mirrorOnly) {
      throw new InstallError(`cannot install the Pulumi CLI ${version}: ${reasons.join('; ') || 'no mirror given'}, and --mirror-only allows no other source`);
    }
    const downloaded = await downloadCli(version, cacheDir, pins);
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
          `Install Go (>= 1.26) or Pulumi ${version}, or name an engine mirror (FELHOM_ENGINE_MIRROR), then run \`npm run engine:install\` again.`,
        );
      }
      source = 'go-build';
    }
  }

  // Copy every file of the cached install (the CLI, and language hosts when downloaded).
  await mkdir(engineBin, { recursive: true });
  await installCliFolder(join(cacheDir, 'bin'), engineBin);
  const installed = await reportedVersion(projectCli);
  if (!installed || !versionAtLeast(parseVersion(installed), want)) {
    throw new InstallError(`the installed CLI reports ${installed ?? 'nothing'} instead of ${version}; remove ${cacheDir} and run again`);
  }
  say(`cli: pulumi ${installed} installed from ${source} (${seconds(stepStart)})`);
  return { version: installed, source };
}

// ---------------------------------------------------------------------------------------------
// plugins

function pulumiEnv() {
  return { ...process.env, PULUMI_HOME: engineHome, PULUMI_SKIP_UPDATE_CHECK: '1', PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true' };
}

/**
 * A plugin folder is installed when its executable is there and no `<folder>.partial` marks an
 * install under way. Pulumi keeps `<folder>.lock` beside every plugin for good: it means nothing.
 */
async function installedIn(pluginsRoot, plugin) {
  const folder = join(pluginsRoot, pluginEntry(plugin));
  return (await isExecutable(join(folder, pluginBinaryName(plugin)))) && !(await exists(`${folder}.partial`)) ? folder : undefined;
}

/** The machine's plugin caches, other than the engine home's own. */
function machinePluginCaches() {
  const caches = [join(homedir(), '.pulumi', 'plugins')];
  if (process.env.PULUMI_HOME) caches.push(join(resolve(process.env.PULUMI_HOME), 'plugins'));
  return [...new Set(caches)].filter((dir) => resolve(dir) !== resolve(pluginDir));
}

/**
 * The version a plugin binary reports of itself. A resource plugin answers with its schema
 * (`pulumi package get-schema`); a language host has no version call, so its folder's Pulumi name
 * and the executable's embedded module version are what there is: the embedded version is read.
 */
async function reportedPluginVersion(plugin, binary) {
  if (plugin.kind === 'resource') {
    const result = await run(join(engineBin, 'pulumi'), ['package', 'get-schema', binary], { env: pulumiEnv(), timeoutMs: 600_000, beat: `${pluginLabel(plugin)}: reading its schema` });
    if (result.code !== 0) return { version: undefined, reason: `pulumi package get-schema: ${result.timedOut ? 'timed out' : lastLines(result.stderr, 2)}` };
    try {
      const version = JSON.parse(result.stdout).version;
      return { version: typeof version === 'string' ? version.replace(/^v/, '') : undefined, reason: 'its schema has no version' };
    } catch {
      return { version: undefined, reason: 'pulumi package get-schema printed no JSON' };
    }
  }
  const result = await run('go', ['version', '-m', binary], { timeoutMs: 60_000 });
  const match = /^\s*mod\s+\S+\s+v(\d+\.\d+\.\d+\S*)/m.exec(result.stdout) ?? /-X\s+\S*version\.Version=v?(\d+\.\d+\.\d+\S*)/.exec(result.stdout);
  if (match) return { version: match[1], reason: '' };
  const strings = await readFile(binary);
  const stamped = new RegExp(`\\bv?${plugin.version.replace(/\./g, '\\.')}\\b`).test(strings.toString('latin1'));
  return stamped ? { version: plugin.version, reason: '' } : { version: undefined, reason: 'the executable names no version' };
}

/** Refuses a plugin binary whose own version is not the pinned one. */
async function checkPluginVersion(plugin, binary, source) {
  const { version, reason } = await reportedPluginVersion(plugin, binary);
  if (version !== plugin.version) {
    throw new RefusedError(`${pluginLabel(plugin)} from ${source} reports version ${version ?? `nothing (${reason})`}, not ${plugin.version}: refused`, { plugin: plugin.name, source, reported: version ?? null });
  }
}

/**
 * `pulumi plugin install <kind> <name> <version> --file <archive|folder>` into the engine home.
 * A language host is the exception: the CLI refuses to install one ("bundled with Pulumi"), and
 * finds it on PATH next to itself instead. So its executable is laid out in Pulumi's own form
 * (`plugins/language-<name>-v<version>/` with the `.lock` beside it) and linked into the
 * engine's `bin/`, which starts the PATH the runner gives the engine (runner/engine/locate.ts).
 */
async function registerPlugin(plugin, file, binary) {
  if (plugin.kind === 'language') {
    const executable = binary ?? join(file, pluginBinaryName(plugin));
    const folder = join(pluginDir, pluginEntry(plugin));
    await mkdir(folder, { recursive: true });
    await copyFile(executable, join(folder, pluginBinaryName(plugin)));
    await chmod(join(folder, pluginBinaryName(plugin)), 0o755);
    await writeFile(`${folder}.lock`, '');
    await linkLanguageHost(plugin);
    return;
  }
  const result = await run(join(engineBin, 'pulumi'), ['plugin', 'install', plugin.kind, plugin.name, plugin.version, '--file', file], { env: pulumiEnv(), timeoutMs: 300_000, beat: `${pluginLabel(plugin)}: installing` });
  if (result.code !== 0) throw new InstallError(`pulumi plugin install --file for ${plugin.name} ${plugin.version} failed: ${lastLines(result.stderr)}`);
}

/** Links an installed language host into the engine's bin/, replacing a stale link. */
async function linkLanguageHost(plugin) {
  const target = join(pluginDir, pluginEntry(plugin), pluginBinaryName(plugin));
  const link = join(engineBin, pluginBinaryName(plugin));
  await rm(link, { force: true });
  await symlink(target, link);
}

/** Checks an archive's digest, unpacks it, checks the plugin's own version, installs it. */
async function installArchive(plugin, bytes, { listed, source }) {
  const name = pluginArchive(plugin);
  const check = checkDigest({ name, bytes, pinned: plugin.sha256?.[pluginPlatform()] ?? null, listed, source });
  const unpacked = await unpack(bytes, name);
  try {
    const binary = join(unpacked.contents, pluginBinaryName(plugin));
    if (!(await isExecutable(binary))) throw new RefusedError(`${name} from ${source} holds no executable ${pluginBinaryName(plugin)}: refused`, { archive: name, source });
    await checkPluginVersion(plugin, binary, source);
    await registerPlugin(plugin, unpacked.archive, binary);
    return check;
  } finally {
    await rm(unpacked.work, { recursive: true, force: true });
  }
}

function officialPluginUrl(plugin) {
  const archive = pluginArchive(plugin);
  if (pluginReleaseBaseUrl) return `${pluginReleaseBaseUrl.replace(/\/$/, '')}/${archive}`;
  if (plugin.server?.startsWith('github://')) {
    const [, owner, repo] = plugin.server.slice('github://'.length).split('/');
    return `https://github.com/${owner}/${repo}/releases/download/v${plugin.version}/${archive}`;
  }
  return `https://get.pulumi.com/releases/plugins/${archive}`;
}

/** Each source in order; the first that gives a checked plugin wins. A refusal stops at once. */
async function installPlugin(plugin, options) {
  const stepStart = Date.now();
  const label = pluginLabel(plugin);
  const done = (source, extra = {}) => {
    say(`${label}: ${source === 'project' ? `already installed in ${engineHome}` : `installed from ${source}`}${extra.sha256 ? `, sha256 ${extra.sha256} checked against ${extra.checkedBy}` : ''} (${seconds(stepStart)})`);
    return { ...plugin, installed: true, source, ...extra };
  };
  if (await installedIn(pluginDir, plugin)) {
    if (plugin.kind === 'language') await linkLanguageHost(plugin);
    return done('project');
  }

  const reasons = [];
  if (options.mirror) {
    say(`${label}: fetching ${pluginArchive(plugin)} from mirror ${options.mirror.label}`);
    const bytes = await options.mirror.get(pluginArchive(plugin));
    if (bytes) {
      const check = await installArchive(plugin, bytes, { listed: (await options.mirror.sums()).get(pluginArchive(plugin)), source: options.mirror.label });
      return done(`mirror:${options.mirror.label}`, { sha256: check.digest, checkedBy: check.checkedBy });
    }
    reasons.push(`mirror: ${options.mirror.label} has no ${pluginArchive(plugin)}`);
  }

  if (!options.mirrorOnly) {
    const url = officialPluginUrl(plugin);
    const probe = await reachable(url);
    if (probe.ok) {
      say(`${label}: downloading ${url}`);
      const fetched = await download(url, { label: `${label}: downloading` }).catch((error) => ({ status: 0, error }));
      if (fetched.status === 200) {
        const pinned = plugin.sha256?.[pluginPlatform()] ?? null;
        // An official archive with no pinned digest is taken on TLS and the plugin's own version; its
        // digest is printed so that it can be pinned.
        const check = await installArchive(plugin, fetched.bytes, { listed: pinned ?? sha256Hex(fetched.bytes), source: url });
        if (!pinned) say(`${label}: no digest pinned for ${pluginPlatform()}; the official archive has sha256 ${check.digest}: pin it in engine/plugins.json`);
        return done('download', { sha256: check.digest, checkedBy: pinned ? check.checkedBy : 'TLS (not pinned)' });
      }
      reasons.push(`download: ${url}: ${fetched.error ? fetched.error.message : `HTTP ${fetched.status}`}`);
    } else {
      reasons.push(`download: ${probe.reason}`);
    }

    for (const cache of machinePluginCaches()) {
      const folder = await installedIn(cache, plugin);
      if (!folder) continue;
      await checkPluginVersion(plugin, join(folder, pluginBinaryName(plugin)), folder);
      await registerPlugin(plugin, folder);
      return done(`plugin-cache:${cache}`);
    }
    reasons.push(`plugin cache: not in ${machinePluginCaches().join(' or ')}`);
  }

  say(`${label}: UNAVAILABLE (${seconds(stepStart)})`);
  for (const reason of reasons) say(`  - ${reason}`);
  return { ...plugin, installed: false, reasons };
}

// ---------------------------------------------------------------------------------------------
// packing a mirror

/**
 * Writes the installed CLI and plugins into `out` as Pulumi's archives, and their digests into
 * `out/SHA256SUMS` (entries of other platforms already there are kept).
 */
async function packMirror(pins, out, only) {
  await mkdir(out, { recursive: true });
  const sumsPath = join(out, SUMS_FILE);
  const sums = parseSums(await readFile(sumsPath, 'utf8').catch(() => ''));
  const work = await mkdtemp(join(tmpdir(), 'felhom-engine-mirror-'));
  const packed = [];
  const missing = [];
  try {
    const version = await pinnedCliVersion(pins);
    const cli = join(engineBin, 'pulumi');
    if (!only || only.includes('pulumi')) {
      if ((await reportedVersion(cli)) !== version) throw new InstallError(`no pulumi ${version} in ${engineBin}: run \`npm run engine:install\` first`);
      const folder = join(work, 'pulumi');
      await mkdir(folder);
      for (const name of await readdir(engineBin)) {
        if (!name.includes('.partial-') && (await isExecutable(join(engineBin, name)))) await copyFile(await realpath(join(engineBin, name)), join(folder, name));
      }
      const name = cliArchive(version);
      await pack(work, ['pulumi'], join(out, name));
      packed.push(name);
    }
    for (const plugin of pins.plugins) {
      if (only && !only.includes(plugin.name)) continue;
      let folder = await installedIn(pluginDir, plugin);
      for (const cache of machinePluginCaches()) folder ??= await installedIn(cache, plugin);
      if (!folder) {
        missing.push(plugin);
        say(`${pluginLabel(plugin)}: not installed here, not packed`);
        continue;
      }
      await checkPluginVersion(plugin, join(folder, pluginBinaryName(plugin)), folder);
      const names = [];
      for (const name of await readdir(folder)) {
        if (!name.endsWith('.lock') && !name.endsWith('.partial') && (await stat(join(folder, name)).then((info) => info.isFile(), () => false))) names.push(name);
      }
      await pack(folder, names, join(out, pluginArchive(plugin)));
      packed.push(pluginArchive(plugin));
    }
    for (const name of packed) {
      sums.set(name, sha256Hex(await readFile(join(out, name))));
      say(`packed ${name}  sha256 ${sums.get(name)}`);
    }
    const text = [...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, digest]) => `${digest}  ${name}\n`).join('');
    await writeFile(`${sumsPath}.partial-${process.pid}`, text);
    await rename(`${sumsPath}.partial-${process.pid}`, sumsPath);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  say(`mirror ${out}: ${packed.length} archive(s) and ${SUMS_FILE} written in ${seconds(started)}` +
    (missing.length ? `; not installed, so not packed: ${missing.map((plugin) => `${plugin.name} ${plugin.version}`).join(', ')}` : ''));
  if (missing.length) process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------

const USAGE = 'expected --cli-only, --plugins-only, --require-plugins, --only name[,name], --mirror <dir|url>, --mirror-only, or `mirror --out <dir>`';

function parseArgs(argv) {
  const options = { command: 'install', cliOnly: false, pluginsOnly: false, requirePlugins: false, only: undefined, mirror: process.env.FELHOM_ENGINE_MIRROR || undefined, mirrorOnly: false, out: undefined };
  const args = [...argv];
  if (args[0] === 'mirror') {
    options.command = 'mirror';
    args.shift();
  }
  const value = (arg, i) => {
    const [flag, inline] = arg.split(/=(.*)/s);
    const given = inline ?? args[i + 1];
    if (!given || given.startsWith('--')) throw new InstallError(`${flag} needs a value; ${USAGE}`);
    return { given, skip: inline === undefined ? 1 : 0 };
  };
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    const flag = arg.split('=')[0];
    if (arg === '--cli-only') options.cliOnly = true;
    else if (arg === '--plugins-only') options.pluginsOnly = true;
    else if (arg === '--require-plugins') options.requirePlugins = true;
    else if (arg === '--mirror-only') options.mirrorOnly = true;
    else if (['--only', '--mirror', '--out'].includes(flag)) {
      const { given, skip } = value(arg, i);
      i += skip;
      if (flag === '--only') options.only = given.split(',').filter(Boolean);
      else if (flag === '--mirror') options.mirror = given;
      else options.out = resolve(given);
    } else throw new InstallError(`unknown option ${arg}; ${USAGE}`);
  }
  if (options.command === 'mirror' && !options.out) throw new InstallError(`mirror needs --out <dir>; ${USAGE}`);
  if (options.mirrorOnly && !options.mirror) throw new InstallError('--mirror-only needs a mirror: --mirror <dir|url> or FELHOM_ENGINE_MIRROR');
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const pins = await loadPins();
  if (options.command === 'mirror') {
    await packMirror(pins, options.out, options.only);
    return;
  }
  const mirror = options.mirror ? openMirror(options.mirror) : undefined;
  say(`installing into ${engineHome} (machine cache ${machineCacheRoot()}${mirror ? `; mirror ${mirror.label}` : ''})`);
  await mkdir(pluginDir, { recursive: true });

  const report = { cli: undefined, pulumiHome: engineHome, mirror: mirror?.label ?? null, plugins: [], refused: [], finishedAt: undefined };
  const writeReport = async () => {
    report.finishedAt = new Date().toISOString();
    await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  };
  try {
    const cli = options.pluginsOnly && (await reportedVersion(join(engineBin, 'pulumi')))
      ? { version: await reportedVersion(join(engineBin, 'pulumi')), source: 'project' }
      : await installCli(pins, { mirror, mirrorOnly: options.mirrorOnly });
    report.cli = { version: cli.version, source: cli.source, path: join(engineBin, 'pulumi'), ...(cli.sha256 ? { sha256: cli.sha256 } : {}) };

    if (!options.cliOnly) {
      const unknown = (options.only ?? []).filter((name) => !pins.plugins.some((plugin) => plugin.name === name));
      if (unknown.length) throw new InstallError(`--only: ${unknown.join(', ')} not pinned in engine/plugins.json (pinned: ${pins.plugins.map((plugin) => plugin.name).join(', ')})`);
      const wanted = options.only ? pins.plugins.filter((plugin) => options.only.includes(plugin.name)) : pins.plugins;
      for (const plugin of wanted) {
        try {
          report.plugins.push(await installPlugin(plugin, { mirror, mirrorOnly: options.mirrorOnly }));
        } catch (error) {
          if (!(error instanceof RefusedError)) throw error;
          say(`${pluginLabel(plugin)}: REFUSED: ${error.message}`);
          report.refused.push({ plugin: plugin.name, version: plugin.version, message: error.message, ...error.details });
          report.plugins.push({ ...plugin, installed: false, reasons: [error.message] });
        }
      }
    }
  } catch (error) {
    if (error instanceof RefusedError) report.refused.push({ message: error.message, ...error.details });
    await writeReport();
    throw error;
  }
  report.plugins = report.plugins.map(({ kind, name, version, installed, source, sha256, checkedBy, reasons }) => ({ kind, name, version, installed, source, sha256, checkedBy, reasons }));
  await writeReport();

  const missing = report.plugins.filter((plugin) => !plugin.installed);
  const have = report.plugins.filter((plugin) => plugin.installed).map((plugin) => plugin.name);
  say(`done in ${seconds(started)}: pulumi ${report.cli.version}; plugins installed: ${have.join(', ') || 'none'}` +
    (missing.length ? `; unavailable: ${missing.map((plugin) => plugin.name).join(', ')}` : ''));
  if (report.refused.length) {
    throw new InstallError(`refused ${report.refused.length} archive(s) or plugin(s) that failed their check: ${report.refused.map((entry) => entry.message).join('; ')}`);
  }
  if (missing.length && options.requirePlugins) {
    throw new InstallError(`required plugins unavailable: ${missing.map((plugin) => `${plugin.name} ${plugin.version}`).join(', ')}`);
  }
}

main().catch((error) => {
  const message = error instanceof InstallError ? error.message : `unexpected failure: ${error?.stack ?? error}`;
  process.stderr.write(`[engine] FAILED after ${seconds(started)}: ${message}\n`);
  process.exitCode = 1;
});
