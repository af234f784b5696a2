/** Three guests on one simulated Proxmox host, each with its local-API socket and token (runner/local-api/). */
import { join } from 'node:path';
import type { Test } from 'tap';
import { AuditLog, verifyAuditLog, type AuditEntry } from '../../runner/state/audit.js';
import { LocalApiClient } from '../../runner/local-api/client.js';
import { PveGuestOperations } from '../../runner/local-api/guest-operations.js';
import { grantsFromSpec, LocalApiServer, type GuestGrant } from '../../runner/local-api/server.js';
import { LocalApiTokens } from '../../runner/local-api/tokens.js';
import { GOLDEN_TEMPLATE_FILE } from '../../runner/sim/proxmox/state.js';
import { tempDir } from './enrollment.js';
import { startTestSimulator, type TestSimulator } from './pve-sim.js';

export const GUESTS = [
  { guest: 'tenant-a', vmId: 201 },
  { guest: 'tenant-b', vmId: 202 },
  { guest: 'tenant-c', vmId: 203 },
];

export interface Fixture {
  readonly sim: TestSimulator;
  readonly server: LocalApiServer;
  readonly audit: AuditLog;
  readonly tokens: LocalApiTokens;
  readonly token: Record<string, string>;
  readonly client: (guest: string, token?: string) => LocalApiClient;
  readonly now: { ms: number };
  entries(): Promise<readonly AuditEntry[]>;
}

export async function company(t: Test, options: { rateLimit?: { calls: number; windowMs: number }; maxSnapshots?: number; grants?: GuestGrant[]; hubHead?: () => { seq: number; hash: string } | null } = {}): Promise<Fixture> {
  const sim = await startTestSimulator(t);
  await sim.api.post('/storage', { storage: 'nas-backup', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup' });
  for (const { guest, vmId } of GUESTS) {
    await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: vmId, hostname: guest, ostemplate: `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`, rootfs: 'local-lvm:8', memory: 1024, start: 1 });
  }
  const state = tempDir(t);
  const now = { ms: Date.now() };
  const clock = () => new Date(now.ms);
  const audit = await AuditLog.open(AuditLog.fileIn(state), { clock });
  const tokens = await LocalApiTokens.open(join(state, 'local-api'), { clock });
  const token: Record<string, string> = {};
  for (const { guest } of GUESTS) token[guest] = await tokens.issue(guest);
  const grants =
    options.grants ??
    grantsFromSpec({
      guests: GUESTS.map(({ guest, vmId }) => ({ name: guest, vmId, memoryMiB: 2048, diskGiB: 16 })),
      backup: { jobs: [{ storage: 'nas-backup', guests: ['tenant-a', 'tenant-b'] }] },
    });
  const server = await LocalApiServer.start({
    box: 'co-0001',
    socketDir: join(state, 'local-api', 'sockets'),
    tokens,
    audit,
    operations: new PveGuestOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, pollMs: 20, node: 'pve' }),
    grants: () => grants,
    clock,
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.maxSnapshots ? { maxSnapshots: options.maxSnapshots } : {}),
    ...(options.hubHead ? { hubHead: options.hubHead } : {}),
  });
  t.teardown(() => server.close());
  return {
    sim,
    server,
    audit,
    tokens,
    token,
    now,
    client: (guest, override) => new LocalApiClient({ socketPath: server.socketPath(guest), token: override ?? token[guest]! }),
    entries: async () => (await verifyAuditLog(audit.file)).entries,
  };
}


export const snapshotsOf = async (sim: TestSimulator, vmId: number) => ((await sim.api.get<{ name: string }[]>(`/nodes/pve/lxc/${vmId}/snapshot`)) ?? []).map((s) => s.name).filter((n) => n !== 'current');
export const configOf = (sim: TestSimulator, vmId: number) => sim.api.get<{ memory?: number; rootfs?: string }>(`/nodes/pve/lxc/${vmId}/config`);
