/**
 * A real Docker daemon and a local registry for tests, and test images built from
 * busybox-static, all private to the test that starts them (docs/engine.md#the-guest-tier-on-docker-tests).
 *
 * - `dockerd` runs on its own socket, data root, exec root and pid file under a fresh temp folder,
 *   without the default bridge and without touching the host's iptables, so several of them (and
 *   other people's) can run on one machine. Containers reach each other on user-defined networks,
 *   and the host reaches them at their network address.
 * - `docker-registry` listens on a free port on 127.0.0.1 (Docker trusts plain HTTP there) with its
 *   own config and storage folder.
 * - Images are a tiny root filesystem (busybox and the files a test names) imported with
 *   `docker import`, pushed to the registry, and referred to by the digest the registry gives.
 *
 * Everything is stopped and removed at teardown, on a failed start, and (killed) when the process
 * exits without a teardown. A missing Debian package fails the start naming it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';

const execFileAsync = promisify(execFile);

/** A tool the harness runs and the Debian package (test/system-packages.txt) that provides it. */
const TOOLS = {
  dockerd: { path: '/usr/sbin/dockerd', pkg: 'docker.io' },
  docker: { path: '/usr/bin/docker', pkg: 'docker.io' },
  registry: { path: '/usr/bin/docker-registry', pkg: 'docker-registry' },
  busybox: { path: '/bin/busybox', pkg: 'busybox-static' },
} as const;

export class MissingPackageError extends Error {
  constructor(tool: keyof typeof TOOLS) {
    super(`${TOOLS[tool].path} is missing: install the Debian package ${TOOLS[tool].pkg} (listed in test/system-packages.txt; npm run deps:system)`);
    this.name = 'MissingPackageError';
  }
}

async function requireTool(tool: keyof typeof TOOLS): Promise<string> {
  try {
    await access(TOOLS[tool].path, fsConstants.X_OK);
  } catch {
    throw new MissingPackageError(tool);
  }
  return TOOLS[tool].path;
}

/** Processes started here that must not outlive this process, killed on exit if still running. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const process of running) process.kill('SIGKILL');
    });
  }
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; the caller binds it next). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, options: { timeoutMs: number; child?: ChildProcess; log?: string }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (options.child && options.child.exitCode !== null) {
      throw new Error(`${what}: the process exited with status ${options.child.exitCode}${options.log ? `; its log:\n${await tail(options.log)}` : ''}`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${options.timeoutMs} ms${options.log ? `; its log:\n${await tail(options.log)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function tail(file: string, lines = 20): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Unmounts what a killed daemon left mounted under `dir` (overlay layers, shm), deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''))
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await execFileAsync('umount', ['-l', point]).catch(() => undefined);
}

export interface DockerDaemon {
  /** `unix://<socket>`: what the docker provider's `host` and `DOCKER_HOST` take. */
  readonly host: string;
  readonly socketPath: string;
  /** The daemon's private folder (data root, exec root, pid file, log). */
  readonly dir: string;
  /** Runs the docker CLI against this daemon; resolves to its trimmed stdout. */
  docker(args: readonly string[], options?: { input?: Buffer | string; timeoutMs?: number }): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a private dockerd and waits until it answers; stops it at `t`'s teardown. */
export async function startDockerDaemon(t?: Test): Promise<DockerDaemon> {
  const dockerd = await requireTool('dockerd');
  const dockerCli = await requireTool('docker');
  // Short: a unix socket path has a 108-byte limit.
  const dir = await mkdtemp(join(tmpdir(), 'fh-dockerd-'));
  const socketPath = join(dir, 'docker.sock');
  const log = join(dir, 'dockerd.log');
  // A /16 of 10.x per daemon, so networks of parallel daemons rarely share addresses.
  const second = 100 + Math.floor(Math.random() * 150);
  const args = [
    '--host', `unix://${socketPath}`,
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'docker.pid'),
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
    '--default-address-pool', `base=10.${second}.0.0/16,size=24`,
    '--shutdown-timeout', '2',
    '--log-level', 'warn',
  ];
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(log, 'a');
  const child = spawn(dockerd, args, { stdio: ['ignore', fd, fd], detached: false });
  closeSync(fd);
  track(child);
  const host = `unix://${socketPath}`;
  const docker: DockerDaemon['docker'] = async (dockerArgs, options = {}) => {
    return new Promise((resolve, reject) => {
      const cli = spawn(dockerCli, ['--host', host, ...dockerArgs], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DOCKER_CONFIG: join(dir, 'cli') } });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      cli.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      cli.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      const timer = setTimeout(() => cli.kill('SIGKILL'), options.timeoutMs ?? 120_000);
      cli.once('error', reject);
      cli.once('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(Buffer.concat(out).toString('utf8').trim());
        else reject(new Error(`docker ${dockerArgs.join(' ')} exited with ${code}: ${Buffer.concat(err).toString('utf8').trim()}`));
      });
      cli.stdin.end(options.input ?? '');
    });
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Containers first, at once: a busybox httpd as PID 1 ignores SIGTERM.
    const ids = await docker(['ps', '-aq'], { timeoutMs: 20_000 }).catch(() => '');
    if (ids) await docker(['rm', '-f', ...ids.split('\n')], { timeoutMs: 60_000 }).catch(() => undefined);
    await stopChild(child, 20_000);
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    await waitFor('dockerd', async () => (await socketAnswers(socketPath)) && (await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 }).then(() => true)), { timeoutMs: 60_000, child, log });
  } catch (error) {
    await stop();
    throw error;
  }
  t?.teardown(stop);
  return { host, socketPath, dir, docker, stop };
}

export interface LocalRegistry {
  /** `127.0.0.1:<port>`: the registry part of an image reference. */
  readonly address: string;
  stop(): Promise<void>;
}

/** Starts Debian's docker-registry on a free port of 127.0.0.1 with its own storage. */
export async function startRegistry(t?: Test): Promise<LocalRegistry> {
  const registry = await requireTool('registry');
  const dir = await mkdtemp(join(tmpdir(), 'fh-registry-'));
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const config = join(dir, 'config.yml');
    const log = join(dir, 'registry.log');
    await writeFile(config, [
      'version: 0.1',
      'log: { level: warn }',
      'storage:',
      `  filesystem: { rootdirectory: ${join(dir, 'storage')} }`,
      '  delete: { enabled: true }',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'));
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync(log, 'w');
    const child = spawn(registry, ['serve', config], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    track(child);
    const address = `127.0.0.1:${port}`;
    const stop = async () => {
      await stopChild(child, 5_000);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    };
    try {
      await waitFor('docker-registry', async () => (await fetch(`http://${address}/v2/`)).ok, { timeoutMs: 30_000, child, log });
    } catch (error) {
      // Someone else took the port between our probe and the registry's bind: another port.
      await stopChild(child, 5_000);
      if (attempt < 3 && /address already in use/.test(await tail(log))) continue;
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
    t?.teardown(stop);
    return { address, stop };
  }
}

/** A test image: busybox plus `files`, run as `cmd`. */
export interface TestImageSpec {
  /** Repository path in the registry, e.g. `felhom-test/web`. */
  readonly repository: string;
  readonly tag: string;
  /** Files of the root filesystem, path → content; executable when the path is under /bin. */
  readonly files?: Readonly<Record<string, string>>;
  /** Files copied in from this machine, image path → source path (executable under /bin). */
  readonly copies?: Readonly<Record<string, string>>;
  /** The image's CMD. */
  readonly cmd: readonly string[];
  /** The image's ENTRYPOINT. @default - none */
  readonly entrypoint?: readonly string[];
  /** Busybox applets linked into /bin. @default - sh, httpd, wget and a few shell tools */
  readonly applets?: readonly string[];
}

export interface BuiltImage {
  /** `127.0.0.1:<port>/<repository>` */
  readonly image: string;
  readonly tag: string;
  /** The manifest digest the registry serves, `sha256:…`. */
  readonly digest: string;
  /** `<image>@<digest>` */
  readonly reference: string;
}

const DEFAULT_APPLETS = ['sh', 'httpd', 'wget', 'cat', 'echo', 'sleep', 'date', 'mkdir', 'ls', 'test', 'true', 'kill', 'tail', 'grep'];

/** Builds a busybox image with `docker import`, pushes it, and returns it by digest. */
export async function buildTestImage(daemon: DockerDaemon, registry: LocalRegistry, spec: TestImageSpec): Promise<BuiltImage> {
  const busybox = await requireTool('busybox');
  const root = await mkdtemp(join(tmpdir(), 'fh-rootfs-'));
  try {
    await mkdir(join(root, 'bin'), { recursive: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
    await copyFile(busybox, join(root, 'bin', 'busybox'));
    await chmod(join(root, 'bin', 'busybox'), 0o755);
    for (const applet of spec.applets ?? DEFAULT_APPLETS) await symlink('busybox', join(root, 'bin', applet));
    for (const [path, content] of Object.entries(spec.files ?? {})) {
      const target = join(root, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
      if (path.startsWith('/bin/')) await chmod(target, 0o755);
    }
    for (const [path, source] of Object.entries(spec.copies ?? {})) {
      const target = join(root, path);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(source, target);
      if (path.startsWith('/bin/')) await chmod(target, 0o755);
    }
    // A file, not a buffer: Traefik alone is 180 MB.
    const tar = `${root}.tar`;
    await execFileAsync('tar', ['-C', root, '-c', '-f', tar, '.']);
    const image = `${registry.address}/${spec.repository}`;
    const tagged = `${image}:${spec.tag}`;
    const changes = [`CMD ${JSON.stringify(spec.cmd)}`, ...(spec.entrypoint ? [`ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`] : [])];
    await daemon.docker(['import', ...changes.flatMap((change) => ['--change', change]), tar, tagged], { timeoutMs: 300_000 });
    await daemon.docker(['push', tagged], { timeoutMs: 300_000 });
    const response = await fetch(`http://${registry.address}/v2/${spec.repository}/manifests/${spec.tag}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    const digest = response.headers.get('docker-content-digest');
    if (!response.ok || !digest) throw new Error(`registry ${registry.address} has no manifest for ${tagged} (HTTP ${response.status})`);
    // Only the registry's copy is the test's: pulling by digest must really pull.
    await daemon.docker(['rmi', tagged]);
    return { image, tag: spec.tag, digest, reference: `${image}@${digest}` };
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(`${root}.tar`, { force: true });
  }
}

/**
 * The small HTTP app: busybox httpd on `port` serving `/health` (`ok`) and an index page that
 * names `version`, so a test sees which image answers.
 */
export function webAppImage(version: string, port = 8080): TestImageSpec {
  return {
    repository: 'felhom-test/web',
    tag: version,
    files: { '/www/health': 'ok\n', '/www/index.html': `felhom test app ${version}\n` },
    cmd: ['/bin/httpd', '-f', '-p', String(port), '-h', '/www'],
  };
}

/**
 * The "database": appends a line per start to `/data/db.log` (its volume), serves the volume
 * over HTTP on `port` so a test reads what it wrote, and is healthy once its file exists.
 */
export function databaseImage(version: string, port = 5432): TestImageSpec {
  return {
    repository: 'felhom-test/db',
    tag: version,
    files: {
      '/bin/db': `#!/bin/sh\nmkdir -p /data\necho "started ${version} $(date +%s)" >> /data/db.log\nexec httpd -f -p ${port} -h /data\n`,
    },
    cmd: ['/bin/db'],
  };
}

/** The Traefik release the guest tier's tests run, built from its Go module (docs/engine.md). */
export const TRAEFIK_MODULE = 'github.com/traefik/traefik/v3';
export const TRAEFIK_VERSION = 'v3.6.12';

/**
 * The Traefik binary, built once per machine from its Go module through the Go module proxy into
 * the machine cache (`~/.cache/felhom/test/traefik-<version>/traefik`, outside any repository),
 * then reused. Throws naming what is missing when it cannot be built here.
 */
export async function traefikBinary(log: (line: string) => void = () => {}): Promise<string> {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'felhom', 'test', `traefik-${TRAEFIK_VERSION}`);
  const binary = join(cache, 'traefik');
  if (await access(binary, fsConstants.X_OK).then(() => true, () => false)) return binary;
  const go = await execFileAsync('go', ['env', 'GOMODCACHE']).catch(() => undefined);
  if (!go) throw new Error(`Traefik ${TRAEFIK_VERSION} is not in ${cache} and cannot be built: no \`go\` on PATH (Debian package golang-go, Go >= 1.25)`);
  await mkdir(cache, { recursive: true });
  log(`building Traefik ${TRAEFIK_VERSION} from ${TRAEFIK_MODULE} into ${cache} (once per machine; several minutes)`);
  // Its go.mod has replace directives, which `go install module@version` refuses: build the
  // downloaded module as the main module instead, in a scratch copy.
  const { stdout } = await execFileAsync('go', ['mod', 'download', '-json', `${TRAEFIK_MODULE}@${TRAEFIK_VERSION}`], { maxBuffer: 16 * 1024 * 1024 });
  const moduleDir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (!moduleDir) throw new Error(`go mod download ${TRAEFIK_MODULE}@${TRAEFIK_VERSION} gave no module folder`);
  const scratch = await mkdtemp(join(tmpdir(), 'fh-traefik-src-'));
  try {
    await execFileAsync('cp', ['-r', `${moduleDir}/.`, scratch]);
    await execFileAsync('chmod', ['-R', 'u+w', scratch]);
    await execFileAsync('nice', ['-n', '10', 'go', 'build', '-trimpath', '-ldflags', '-s -w', '-o', `${binary}.partial`, './cmd/traefik'], {
      cwd: scratch,
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod -buildvcs=false' },
      maxBuffer: 64 * 1024 * 1024,
    });
    await execFileAsync('mv', [`${binary}.partial`, binary]);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return binary;
}

/** Traefik as a test image: its binary at /bin/traefik (the healthcheck calls `traefik`), busybox beside it. */
export function traefikImage(binary: string): TestImageSpec {
  return { repository: 'felhom-test/traefik', tag: TRAEFIK_VERSION, copies: { '/bin/traefik': binary }, entrypoint: ['/bin/traefik'], cmd: [] };
}

export interface DockerHarness {
  readonly daemon: DockerDaemon;
  readonly registry: LocalRegistry;
}

/** A daemon and a registry, both stopped at `t`'s teardown (the daemon first). */
export async function startDockerHarness(t: Test): Promise<DockerHarness> {
  const registry = await startRegistry();
  let daemon: DockerDaemon;
  try {
    daemon = await startDockerDaemon();
  } catch (error) {
    await registry.stop();
    throw error;
  }
  t.teardown(async () => {
    await daemon.stop();
    await registry.stop();
  });
  return { daemon, registry };
}

/** The address of `container` on `network`, as the daemon reports it. */
export async function containerAddress(daemon: DockerDaemon, container: string, network: string): Promise<string> {
  const address = await daemon.docker(['inspect', '--format', `{{(index .NetworkSettings.Networks ${JSON.stringify(network)}).IPAddress}}`, container]);
  if (!address) throw new Error(`container ${container} has no address on network ${network}`);
  return address;
}

/** Waits until `container` reports `healthy` (its Docker health check passed). */
export async function waitHealthy(daemon: DockerDaemon, container: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`container ${container} healthy`, async () => (await daemon.docker(['inspect', '--format', '{{.State.Health.Status}}', container])) === 'healthy', { timeoutMs });
}
