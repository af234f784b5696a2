// A box installs its engine from its hub's engine mirror, checked against its own pins: the
// CLI and a real plugin arrive through `GET /v1/boxes/<box>/engine/…`; a tampered archive is
// refused (EENGINE_REFUSED, both digests named), and the engines the agent uses fetch what a
// preflight finds missing. Needs a real plugin installed here (it fails naming it, never skips).
import t from 'tap';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../../../runner/agent/errors.js';
import { HubSuppliedEngines, installEngineFromHub } from '../../../runner/agent/engine-supply.js';
import { locateEngine } from '../../../runner/engine/locate.js';
import { EngineRunner } from '../../../runner/engine/run.js';
import { aRealPlugin, packMirror } from '../../helpers/engine-install.js';
import { startTestHub } from '../../helpers/hub.js';

const plugin = await aRealPlugin().catch((error: Error) => {
  t.fail(error.message);
  return undefined;
});
const work = await mkdtemp(join(tmpdir(), 'felhom-engine-supply-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const mirror = join(work, 'mirror');
const platform = `${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;

t.before(async () => {
  if (!plugin) return;
  const packed = await packMirror(mirror, `pulumi,${plugin.name}`);
  if (packed.code !== 0) throw new Error(`packing the mirror failed: ${packed.stderr}`);
});

async function hubWith(t: Tap.Test, engineMirrorDir: string) {
  const { hub, operator } = await startTestHub(t, { engineMirrorDir });
  const { apiKey } = await operator.enrollBox('box-1');
  return { hubUrl: hub.url, apiKey };
}

t.test('a box installs the CLI and its plugin from its hub', async (t) => {
  if (!plugin) return;
  const { hubUrl, apiKey } = await hubWith(t, mirror);
  const engineHome = await mkdtemp(join(work, 'home-'));
  await installEngineFromHub({ hubUrl, box: 'box-1', apiKey: async () => apiKey, engineHome }, [plugin.name]);
  const engine = await locateEngine({ engineHome });
  t.match(engine.version, /^v3\./, 'the CLI came from the hub and runs');
  t.same(engine.plugins, [{ name: plugin.name, version: plugin.version }], 'the plugin came from the hub');
  const report = JSON.parse(await readFile(join(engineHome, 'install.json'), 'utf8'));
  t.match(report.plugins, [{ name: plugin.name, source: /^mirror:http:\/\/127\.0\.0\.1:\d+\/v1\/boxes\/box-1\/engine\/$/, checkedBy: 'SHA256SUMS' }]);
});

t.test('a tampered archive on the hub is refused, naming both digests', async (t) => {
  if (!plugin) return;
  const tampered = join(work, 'tampered');
  await cp(mirror, tampered, { recursive: true });
  const name = `pulumi-${plugin.kind}-${plugin.name}-v${plugin.version}-${platform}.tar.gz`;
  const bytes = await readFile(join(tampered, name));
  bytes[100] ^= 0xff;
  await writeFile(join(tampered, name), bytes);
  const { hubUrl, apiKey } = await hubWith(t, tampered);
  const engineHome = await mkdtemp(join(work, 'home-'));

  const error = await installEngineFromHub({ hubUrl, box: 'box-1', apiKey: async () => apiKey, engineHome }, [plugin.name]).catch((caught: unknown) => caught);
  t.type(error, AgentError);
  t.match(error, { code: 'EENGINE_REFUSED', kind: 'stalled', message: /has sha256 [0-9a-f]{64}, but its SHA256SUMS lists [0-9a-f]{64}: refused/ });
  t.same((await locateEngine({ engineHome })).plugins, [], 'nothing was installed');
});

t.test('a key the hub refuses, or none, stops the install with the reason', async (t) => {
  if (!plugin) return;
  const { hubUrl } = await hubWith(t, mirror);
  const engineHome = await mkdtemp(join(work, 'home-'));
  await t.rejects(installEngineFromHub({ hubUrl, box: 'box-1', apiKey: async () => 'fhb_wrong', engineHome }, [plugin.name]), { code: 'EENGINE_SUPPLY', message: /refused the request .*HTTP 401/ });
  await t.rejects(installEngineFromHub({ hubUrl, box: 'box-1', apiKey: async () => undefined, engineHome }, [plugin.name]), { code: 'EENGINE_SUPPLY', message: /no hub API key/ });
});

t.test('the agent\'s engines fetch a plugin the preflight finds missing, then run', async (t) => {
  if (!plugin) return;
  const { hubUrl, apiKey } = await hubWith(t, mirror);
  const engineHome = await mkdtemp(join(work, 'home-'));
  const engines = new HubSuppliedEngines(() => new EngineRunner({ engineHome }), { hubUrl, box: 'box-1', apiKey: async () => apiKey, engineHome });
  await engines.preflight({ requiredPlugins: [{ name: plugin.name, version: plugin.version }] });
  t.same((await engines.engine()).plugins, [{ name: plugin.name, version: plugin.version }], 'after the preflight the plugin is there');
  await t.rejects(engines.preflight({ requiredPlugins: [{ name: 'nosuch', version: '1.0.0' }] }), { code: 'EPLUGIN_MISSING', message: /nosuch 1\.0\.0 not installed .*; the hub could not supply it: .*nosuch not pinned/ }, 'a plugin the hub cannot give stays missing, with the hub\'s reason');
});
