// The agent's Debian package, built with dpkg-deb and installed with dpkg into a Debian root made
// by debootstrap: the felhom command on PATH runs on the package's own Node, the state directory
// has the right modes, systemd accepts the installed unit, and the installed agent verifies a
// signed spec from a real hub, journals it, and reports back.
//
// Needs root (chroot, dpkg into the root), dpkg-deb and debootstrap; the Debian root is made once
// (deb.debian.org, a few minutes) and kept in ~/.cache/felhom/debroot-bookworm.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentWorld, boxSpec, BOX } from '../helpers/agent-fixture.js';

const run = promisify(execFile);
// The first run makes the Debian root (minutes, over the network); later runs copy it.
t.setTimeout(1_500_000);
const project = new URL('../..', import.meta.url).pathname;
const cachedRoot = join(homedir(), '.cache', 'felhom', 'debroot-bookworm');

function requireTool(tool: string, debianPackage: string): void {
  if (spawnSync(tool, ['--help'], { stdio: 'ignore' }).error) throw new Error(`${tool} is missing: install the Debian package ${debianPackage} (test/system-packages.txt)`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** A minimal Debian root with ca-certificates (the package depends on it), made once. */
async function debianRoot(): Promise<string> {
  if (await exists(join(cachedRoot, 'usr', 'bin', 'dpkg'))) return cachedRoot;
  const partial = `${cachedRoot}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(join(cachedRoot, '..'), { recursive: true });
  await run('nice', ['debootstrap', '--variant=minbase', '--include=ca-certificates', 'bookworm', partial, 'http://deb.debian.org/debian'], { maxBuffer: 64 * 1024 * 1024 });
  await rename(partial, cachedRoot);
  return cachedRoot;
}

/**
 * Runs a command inside the root, in a clean environment (`env -i`: nothing of tap's
 * NODE_OPTIONS), asynchronously: the hub it talks to runs in this process.
 */
async function inRoot(root: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('env', ['-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'HOME=/root', 'chroot', root, ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof failure.code === 'number' ? failure.code : -1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? String(error) };
  }
}

t.test('the agent package installs into a Debian root and its agent runs there', { timeout: 1_200_000 }, async (t) => {
  if (process.getuid?.() !== 0) throw new Error('this test installs a package into a chroot: run it as root');
  requireTool('dpkg-deb', 'dpkg');
  requireTool('debootstrap', 'debootstrap');

  // given a package built from this tree and a fresh copy of the Debian root
  // Not t.testdir(): agentWorld below takes that one over.
  const work = await mkdtemp(join(tmpdir(), 'felhom-deb-test-'));
  t.teardown(async () => {
    await run('umount', [join(work, 'root', 'proc')]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });
  const { stdout } = await run(process.execPath, [join(project, 'tools', 'build-deb.mjs'), '--out', work, '--fast'], { cwd: project });
  const deb = stdout.trim();
  t.match(deb, /felhom-agent_\d+\.\d+\.\d+_amd64\.deb$/);
  const root = join(work, 'root');
  // coreutils cp: device nodes (/dev/null, ...) and ownership come along
  await run('cp', ['-a', await debianRoot(), root]);
  await copyFile(deb, join(root, 'tmp', 'felhom-agent.deb'));
  // The engine reads /proc/self/exe, as on any Debian host: the root gets its /proc.
  await run('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);

  // when dpkg installs it
  const installed = await inRoot(root, ['dpkg', '--force-unsafe-io', '-i', '/tmp/felhom-agent.deb']);
  t.equal(installed.status, 0, installed.stderr);

  // then felhom is on PATH, on the package's own Node
  const { version } = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as { version: string };
  const printed = await inRoot(root, ['felhom', '--version']);
  t.equal(printed.stdout, `${version}\n`, printed.stderr);
  t.notOk(await exists(join(root, 'usr', 'bin', 'node')), 'no system Node was needed');

  // and the state directory is private to root, the settings file a conffile
  const mode = async (path: string) => ((await stat(join(root, path))).mode & 0o777).toString(8);
  t.equal(await mode('var/lib/felhom-agent'), '700');
  t.equal(await mode('var/lib/felhom-agent/keys'), '700');
  t.equal(await mode('var/lib/felhom-agent/secrets'), '700');
  t.equal(await mode('etc/felhom/agent.env'), '640');
  t.equal(await mode('var/lib/felhom-local-api'), '711', "the guests' socket root is traversable, not listable");
  t.match((await inRoot(root, ['dpkg-query', '-W', '-f=${Conffiles}', 'felhom-agent'])).stdout, /\/etc\/felhom\/agent\.env/);

  // and systemd accepts the installed unit as it is, pointing at /usr/bin/felhom
  const unit = await readFile(join(root, 'lib', 'systemd', 'system', 'felhom-agent.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/bin\/felhom agent run /m);
  const analyzed = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '/lib/systemd/system/felhom-agent.service'], { encoding: 'utf8' });
  if (analyzed.error) throw new Error('systemd-analyze is missing: install the Debian package systemd');
  // (The root has no systemd of its own, so systemd-analyze cannot load sysinit.target; that is all it may say.)
  t.notMatch(analyzed.stderr, /Unknown key|Invalid|Failed to parse|not executable|No such file/i, 'the unit parses and its ExecStart exists in the root');

  // and the installed agent pulls a signed spec from a real hub, verifies and journals it, and reports
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  await rm(join(root, 'var', 'lib', 'felhom-agent'), { recursive: true });
  await cp(world.stateDir, join(root, 'var', 'lib', 'felhom-agent'), { recursive: true });
  await copyFile(world.trustPath, join(root, 'var', 'lib', 'felhom-agent', 'trust.json'));
  const cycle = await inRoot(root, ['felhom', 'agent', 'once', '--hub', world.hub.hub.url, '--box', BOX, '--tier', 'host', '--state', '/var/lib/felhom-agent', '--trust', '/var/lib/felhom-agent/trust.json', '--json']);
  const result = JSON.parse(cycle.stdout) as { status: string; items: { serial: number; outcome: string; reason?: { code: string } }[] };
  // The package carries the engine and the Proxmox provider plugin of this machine's .engine/: the
  // verified spec runs on the real engine inside the root, and the provider's first call goes to
  // the Proxmox API the spec names, where no Proxmox listens here: a failed apply, reported.
  t.match(result, { status: 'done', items: [{ serial: 1, outcome: 'failed', reason: { code: 'EENGINE_RUN' } }] }, cycle.stderr);
  const reports = await world.hub.operator.listReports({ box: BOX });
  t.match(reports, [{ outcome: 'failed', serial: 1, reason: { code: 'EENGINE_RUN' } }], 'the hub got the report');
  // Which resource fails first is the engine's race (the tunnel's command fails in the bare root too): the plugin's call is among the lines.
  const lines = [reports[0]?.reason?.message ?? '', ...(reports[0]?.reason?.details ?? [])];
  t.ok(lines.some((line) => /proxmoxve:storage\/\w+:\w+\): .*api2\/json\/storage.*connection refused/.test(line)), `the packaged engine and plugin ran: ${lines.join(' | ')}`);
  const audit = await inRoot(root, ['felhom', 'audit', 'verify', '--state', '/var/lib/felhom-agent']);
  t.equal(audit.status, 0, audit.stderr);

  // and dpkg removes it, keeping the box's records
  t.equal((await inRoot(root, ['dpkg', '--purge', 'felhom-agent'])).status, 0);
  t.notOk(await exists(join(root, 'usr', 'bin', 'felhom')));
  t.ok(await exists(join(root, 'var', 'lib', 'felhom-agent', 'audit.jsonl')), 'the audit log stays');
});
