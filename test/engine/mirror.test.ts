// Engine mirrors for real: `engine/install.mjs mirror --out` packs the installed CLI and a real
// provider plugin, and fresh project copies install from that folder and from a real local HTTP
// server; a tampered archive, a wrong pin and a plugin of another version are refused.
//
// Needs a real plugin installed on this machine (random, command or docker); without one this
// test FAILS naming it and how to install it: it never skips.
import t from 'tap';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cp, mkdir, mkdtemp, readFile, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENGINE_PINS, type EnginePins, type PinnedPlugin } from '../../engine/plugins.js';
import { locateEngine } from '../../runner/engine/locate.js';
import { aRealPlugin, barePath, installedPluginFolder, packMirror, projectCopy, projectRoot, runInstall } from '../helpers/engine-install.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const platform = `${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
const archiveOf = (plugin: Pick<PinnedPlugin, 'kind' | 'name' | 'version'>) => `pulumi-${plugin.kind}-${plugin.name}-v${plugin.version}-${platform}.tar.gz`;
const cliArchive = `pulumi-${ENGINE_PINS.cli.version}-${process.platform}-${process.arch}.tar.gz`;

const plugin = await aRealPlugin().catch((error: Error) => {
  t.fail(error.message);
  return undefined;
});

const work = await mkdtemp(join(tmpdir(), 'felhom-mirror-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const mirror = join(work, 'mirror');
const engine = await locateEngine({ projectRoot });
/** A folder holding only the real CLI, to put on PATH where a test is not about the CLI. */
const cliOnPath = join(work, 'cli');
await mkdir(cliOnPath);
await symlink(await realpath(engine.pulumiPath), join(cliOnPath, 'pulumi'));

async function sums(dir: string): Promise<Map<string, string>> {
  const text = await readFile(join(dir, 'SHA256SUMS'), 'utf8');
  return new Map(text.trim().split('\n').map((line) => line.split(/\s+/).reverse() as [string, string]));
}

/** Serves `dir` over HTTP on a free port; with `token`, only to `Authorization: Bearer <token>`; `delayMs` between chunks. */
async function serve(t: Tap.Test, dir: string, options: { token?: string; delayMs?: number } = {}): Promise<string> {
  const server: Server = createServer(async (req, res) => {
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401).end();
      return;
    }
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.split('/').pop() ?? '');
    const body = await readFile(join(dir, name)).catch(() => undefined);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    if (!options.delayMs) {
      res.end(body);
      return;
    }
    const step = Math.ceil(body.length / 8);
    for (let offset = 0; offset < body.length; offset += step) {
      res.write(body.subarray(offset, offset + step));
      await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/engine/`;
}

/** Pins with one plugin's entry changed. */
function pinsWith(change: (entry: PinnedPlugin & { sha256: Record<string, string | null> }) => void): EnginePins {
  const pins = structuredClone(ENGINE_PINS) as EnginePins;
  change(pins.plugins.find((entry) => entry.name === plugin!.name) as PinnedPlugin & { sha256: Record<string, string | null> });
  return pins;
}

t.before(async () => {
  if (!plugin) return;
  const packed = await packMirror(mirror, `pulumi,${plugin.name}`);
  if (packed.code !== 0) throw new Error(`packing the mirror failed: ${packed.stderr}`);
});

t.test('mirror --out packs the CLI and the plugin in Pulumi\'s archive names, with their digests, the same bytes every time', async (t) => {
  if (!plugin) return;
  const listed = await sums(mirror);
  t.same([...listed.keys()].sort(), [archiveOf(plugin), cliArchive].sort(), 'SHA256SUMS lists both archives');
  for (const name of await readdir(mirror)) {
    if (name !== 'SHA256SUMS') t.equal(listed.get(name), sha256(await readFile(join(mirror, name))), `${name}: its listed digest is its own`);
  }
  const again = join(work, 'again');
  t.equal((await packMirror(again, plugin.name)).code, 0, 'packing again succeeds');
  t.equal((await sums(again)).get(archiveOf(plugin)), listed.get(archiveOf(plugin)), 'the same plugin packs to the same digest: an operator can pin it');
});

t.test('a fresh copy installs the CLI and the plugin from a mirror folder', async (t) => {
  if (!plugin) return;
  const copy = await projectCopy(t);
  const run = await runInstall(copy, {}, ['--mirror', mirror, '--only', plugin.name]);
  t.equal(run.code, 0, `install succeeds: ${run.stderr}`);
  t.match(run.stdout, new RegExp(`cli: pulumi ${ENGINE_PINS.cli.version.replace(/\./g, '\\.')} installed from mirror .*checked against SHA256SUMS`), 'the CLI came from the mirror, checked');
  t.match(run.stdout, `${plugin.name} ${plugin.version}: installed from mirror:${mirror}, sha256 ${(await sums(mirror)).get(archiveOf(plugin))} checked against SHA256SUMS`, 'the plugin came from the mirror, checked');
  const located = await locateEngine({ projectRoot: copy });
  t.same(located.plugins, [{ name: plugin.name, version: plugin.version }], 'the runner finds the installed plugin (its .lock stays beside it)');
  const report = JSON.parse(await readFile(join(copy, '.engine', 'install.json'), 'utf8'));
  t.match(report.plugins, [{ name: plugin.name, installed: true, checkedBy: 'SHA256SUMS' }], 'the report says how it was checked');

  const second = await runInstall(copy, {}, ['--mirror', mirror, '--only', plugin.name]);
  t.match(second.stdout, `${plugin.name} ${plugin.version}: already installed`, 'a second run finds it in place');
});

t.test('a fresh copy installs from an http mirror with its bearer token, and says when the token is refused', async (t) => {
  if (!plugin) return;
  const url = await serve(t, mirror, { token: 'mirror-token-1' });
  const copy = await projectCopy(t);
  const refused = await runInstall(copy, { PATH: barePath(cliOnPath), FELHOM_ENGINE_MIRROR: url }, ['--only', plugin.name, '--mirror-only']);
  t.equal(refused.code, 1, 'without the token the install fails');
  t.match(refused.stderr, /refused the request for SHA256SUMS|refused the request for pulumi-/, 'and says the mirror refused it');
  t.match(refused.stderr, /check FELHOM_ENGINE_MIRROR_TOKEN/, 'and what to check');

  const run = await runInstall(copy, { PATH: barePath(cliOnPath), FELHOM_ENGINE_MIRROR: url, FELHOM_ENGINE_MIRROR_TOKEN: 'mirror-token-1' }, ['--only', plugin.name]);
  t.equal(run.code, 0, `install succeeds: ${run.stderr}`);
  t.match(run.stdout, `installed from mirror:${url}`, 'the plugin came over HTTP');
  t.notMatch(run.stdout + run.stderr, 'mirror-token-1', 'the token is never printed');
  t.same((await locateEngine({ projectRoot: copy })).plugins, [{ name: plugin.name, version: plugin.version }]);
});

t.test('a tampered archive is refused naming both digests, and nothing is installed', async (t) => {
  if (!plugin) return;
  const tampered = join(work, 'tampered');
  await cp(mirror, tampered, { recursive: true });
  const file = join(tampered, archiveOf(plugin));
  const bytes = await readFile(file);
  bytes[bytes.length - 9] ^= 0xff;
  await writeFile(file, bytes);
  const listed = (await sums(mirror)).get(archiveOf(plugin))!;
  const url = await serve(t, tampered);
  const copy = await projectCopy(t);

  const run = await runInstall(copy, { PATH: barePath(cliOnPath) }, ['--mirror', url, '--only', plugin.name]);
  t.equal(run.code, 1, 'the install fails');
  t.match(run.stderr, `has sha256 ${sha256(bytes)}, but its SHA256SUMS lists ${listed}: refused`, 'both digests are named');
  t.same((await locateEngine({ projectRoot: copy })).plugins, [], 'nothing was installed');
  const report = JSON.parse(await readFile(join(copy, '.engine', 'install.json'), 'utf8'));
  t.match(report.refused, [{ plugin: plugin.name, actual: sha256(bytes), expected: listed }], 'the report records the refusal');
});

t.test('a pinned digest decides: the matching archive is taken, any other refused even when SHA256SUMS agrees', async (t) => {
  if (!plugin) return;
  const listed = (await sums(mirror)).get(archiveOf(plugin))!;
  const good = await projectCopy(t, pinsWith((entry) => { entry.sha256[platform] = listed; }));
  const run = await runInstall(good, { PATH: barePath(cliOnPath) }, ['--mirror', mirror, '--only', plugin.name]);
  t.equal(run.code, 0, `install succeeds: ${run.stderr}`);
  t.match(run.stdout, `sha256 ${listed} checked against engine/plugins.json`, 'checked against the pin');

  const wrongPin = 'f'.repeat(64);
  const bad = await projectCopy(t, pinsWith((entry) => { entry.sha256[platform] = wrongPin; }));
  const refused = await runInstall(bad, { PATH: barePath(cliOnPath) }, ['--mirror', mirror, '--only', plugin.name]);
  t.equal(refused.code, 1, 'the install fails');
  t.match(refused.stderr, `has sha256 ${listed}, but engine/plugins.json pins ${wrongPin}: refused`, 'both digests are named');
});

t.test('a plugin that reports another version than its archive name says is refused', async (t) => {
  if (!plugin) return;
  const claimed = plugin.version.replace(/\d+$/, (patch) => String(Number(patch) + 1));
  const forged = join(work, 'forged');
  await mkdir(forged, { recursive: true });
  const bytes = await readFile(join(mirror, archiveOf(plugin)));
  const name = archiveOf({ ...plugin, version: claimed });
  await writeFile(join(forged, name), bytes);
  await writeFile(join(forged, 'SHA256SUMS'), `${sha256(bytes)}  ${name}\n`);
  const copy = await projectCopy(t, pinsWith((entry) => { entry.version = claimed; }));

  const run = await runInstall(copy, { PATH: barePath(cliOnPath) }, ['--mirror', forged, '--only', plugin.name]);
  t.equal(run.code, 1, 'the install fails');
  t.match(run.stderr, `reports version ${plugin.version}, not ${claimed}: refused`, 'the plugin\'s own version is what counts');
});

t.test('a plugin in the machine\'s plugin cache is installed after its version is checked; a slow download says it is still working', async (t) => {
  if (!plugin) return;
  const copy = await projectCopy(t);
  const home = join(copy, 'home');
  await mkdir(join(home, '.pulumi', 'plugins'), { recursive: true });
  await symlink(await installedPluginFolder(plugin) as string, join(home, '.pulumi', 'plugins', `${plugin.kind}-${plugin.name}-v${plugin.version}`));
  const run = await runInstall(copy, { HOME: home, PATH: barePath(cliOnPath) }, ['--only', plugin.name]);
  t.equal(run.code, 0, `install succeeds: ${run.stderr}`);
  t.match(run.stdout, `installed from plugin-cache:${join(home, '.pulumi', 'plugins')}`, 'from the plugin cache');

  const slow = await serve(t, mirror, { delayMs: 150 });
  const other = await projectCopy(t);
  const beat = await runInstall(other, { PATH: barePath(cliOnPath), FELHOM_ENGINE_HEARTBEAT_MS: '200' }, ['--mirror', slow, '--only', plugin.name]);
  t.equal(beat.code, 0, `install succeeds: ${beat.stderr}`);
  t.match(beat.stdout, /mirror: pulumi-.*: [\d.]+ of [\d.]+ MiB: still working \([\d.]+ s\)/, 'a heartbeat with progress and elapsed time');
});

t.test('a plugin no source has is listed with every reason; --require-plugins makes that fatal', async (t) => {
  if (!plugin) return;
  const empty = join(work, 'empty-mirror');
  await mkdir(empty, { recursive: true });
  await writeFile(join(empty, 'SHA256SUMS'), '');
  const copy = await projectCopy(t);
  const run = await runInstall(copy, { PATH: barePath(cliOnPath) }, ['--mirror', empty, '--only', plugin.name, '--require-plugins']);
  t.equal(run.code, 1, 'the install fails');
  t.match(run.stdout, `mirror: ${empty} has no ${archiveOf(plugin)}`, 'the mirror is named');
  t.match(run.stdout, /plugin cache: not in /, 'the plugin cache is named');
  t.match(run.stderr, `required plugins unavailable: ${plugin.name} ${plugin.version}`);
});

t.test('bad options and pins are refused naming them', async (t) => {
  const copy = await projectCopy(t);
  t.match(await runInstall(copy, {}, ['--mirror-only']), { code: 1, stderr: /--mirror-only needs a mirror/ });
  t.match(await runInstall(copy, {}, ['mirror']), { code: 1, stderr: /mirror needs --out <dir>/ });
  t.match(await runInstall(copy, { PATH: barePath(cliOnPath) }, ['--only', 'nosuch']), { code: 1, stderr: /--only: nosuch not pinned in engine\/plugins\.json/ });
  const badPins = await projectCopy(t, pinsWith((entry) => { entry.sha256[platform] = 'not-hex'; }));
  t.match(await runInstall(badPins, {}), { code: 1, stderr: /plugins\[\d\]\.sha256\.linux-amd64: expected 64 lower-case hex digits or null/ });
  const otherCli = await projectCopy(t, { ...ENGINE_PINS, cli: { ...ENGINE_PINS.cli, version: 'v3.1.0' } });
  t.match(await runInstall(otherCli, {}), { code: 1, stderr: /pins the CLI at v3\.1\.0 but engine\/pulumi\/go\.mod requires v3\.274\.1/ });
});
