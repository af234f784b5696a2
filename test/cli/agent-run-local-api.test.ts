// `felhom agent run` on the host tier with PVE API access (the simulator) serves the guests'
// local API: a socket per guest of the last applied spec, the guest's token admits its calls,
// every call lands in the agent's own audit log, and the sockets go when the agent stops.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../cli/main.js';
import { LocalApiClient } from '../../runner/local-api/client.js';
import { agentLocalApiFromEnv } from '../../runner/local-api/agent-local-api.js';
import { LocalApiTokens } from '../../runner/local-api/tokens.js';
import { GOLDEN_TEMPLATE_FILE } from '../../runner/sim/proxmox/state.js';
import { verifyAuditLog } from '../../runner/state/audit.js';
import { agentWorld, BOX, boxSpec } from '../helpers/agent-fixture.js';
import { snapshotsOf } from '../helpers/local-api.js';
import { tempDir } from '../helpers/enrollment.js';
import { startTestSimulator } from '../helpers/pve-sim.js';

t.test('agent run serves each guest of the applied spec its local API, audited in the agent log, until it stops', async (t) => {
  // Given a host-tier state that applied the home box (one guest, customer, CT 200) ...
  // (a short state path: a unix socket's path has at most 107 bytes)
  const world = await agentWorld(t, { stateDir: join(tempDir(t), 'state') });
  await world.publish({ serial: 1, body: boxSpec() as never });
  const first = await world.agent();
  t.match(await first.cycle(), { status: 'done', items: [{ outcome: 'succeeded' }] });
  await first.close();
  // ... a Proxmox host (the simulator) with that CT, and the agent's token for it
  const sim = await startTestSimulator(t);
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, hostname: 'customer', ostemplate: `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`, rootfs: 'local-lvm:8', memory: 1024, start: 1 });
  await writeFile(join(world.stateDir, 'secrets', 'proxmox-api-token'), `${sim.sim.token}\n`, { mode: 0o600 });
  const caFile = join(world.stateDir, 'sim.pem');
  await writeFile(caFile, sim.sim.certificate);
  // ... and the token the agent minted for the guest's controller
  const token = await (await LocalApiTokens.open(join(world.stateDir, 'local-api'))).issue('customer');

  const stop = new AbortController();
  let stderr = '';
  const env = { ...process.env, FELHOM_PROXMOX_API: sim.sim.url, FELHOM_PROXMOX_NODE: 'pve', FELHOM_PROXMOX_CA: caFile, FELHOM_PROXMOX_SIMULATED: '1' };
  const running = main(['agent', 'run', '--hub', world.hub.hub.url, '--box', BOX, '--tier', 'host', '--state', world.stateDir, '--trust', world.trustPath, '--log-format', 'json', '--wait', '1'], {
    streams: { stdout: { write: () => true }, stderr: { write: (chunk: string) => (stderr += chunk) } },
    env,
    cwd: process.cwd(),
    stopSignal: stop.signal,
  });
  const socket = join(world.stateDir, 'local-api', 'sockets', 'customer', 'api.sock');
  // Until the agent has bound the socket (or ended): a condition, not a time.
  let ended = false;
  void running.finally(() => (ended = true));
  while (!existsSync(socket) && !ended) await new Promise((resolve) => setTimeout(resolve, 20));
  t.ok(existsSync(socket), `the guest's socket is served (${stderr.slice(-500)})`);

  const client = new LocalApiClient({ socketPath: socket, token });
  t.match(await client.call('status'), { guest: 'customer', vmId: 200, memoryMiB: 1024, limits: { maxMemoryMiB: 12288, maxDiskGiB: 96 } }, 'the limits come from the applied spec');
  t.same(await client.call('snapshot', { name: 'before-upgrade' }), { snapshot: 'before-upgrade' });
  t.same(await snapshotsOf(sim, 200), ['before-upgrade'], 'through the agent\'s own Proxmox access');
  await t.rejects(new LocalApiClient({ socketPath: socket, token: 'fhl_forged' }).call('status'), { status: 401, code: 'ELOCAL_AUTH' });

  stop.abort();
  t.equal(await running, 0);
  t.notOk(existsSync(socket), 'the socket is removed when the agent stops');
  const audit = await verifyAuditLog(join(world.stateDir, 'audit.jsonl'));
  t.ok(audit.ok, 'the chain verifies with the local API entries in it');
  t.same(
    audit.entries.filter((entry) => entry.actor === 'guest:customer').map((entry) => `${entry.action} ${entry.outcome}`),
    ['local-api.status succeeded', 'local-api.snapshot accepted', 'local-api.snapshot succeeded', 'local-api.status rejected'],
    "every call is in the agent's audit log",
  );
  t.match(stderr, /"msg":"local API serving","guests":\["customer"\]/);
  t.notOk(stderr.includes(token) || stderr.includes(sim.sim.token), 'no secret in the logs');
});

t.test('no local API without PVE API access, or on another tier', async (t) => {
  const agent = { box: BOX, tier: 'host' as const, audit: undefined as never, appliedSpec: async () => undefined, auditHubHead: () => null };
  t.equal(await agentLocalApiFromEnv(agent, { env: {}, stateDir: t.testdir(), dir: t.testdir() }), undefined, 'host tier without FELHOM_PROXMOX_API');
  t.equal(await agentLocalApiFromEnv({ ...agent, tier: 'guest' }, { env: { FELHOM_PROXMOX_API: 'https://127.0.0.1:8006' }, stateDir: t.testdir(), dir: t.testdir() }), undefined, 'guest tier');
  await t.rejects(agentLocalApiFromEnv(agent, { env: { FELHOM_PROXMOX_API: 'https://127.0.0.1:8006' }, stateDir: t.testdir(), dir: t.testdir() }), { code: 'EAGENT_SETUP', message: /no Proxmox API token/ });
});
