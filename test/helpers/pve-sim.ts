/**
 * The PVE API simulator for tests: PVE's schema from the `shared/pve-api/` folder beside the
 * repository (or above it), a simulator on a free loopback port stopped at teardown, and an
 * API client holding its token.
 */
import type { Test } from 'tap';
import { findProjectRoot } from '../../runner/engine/locate.js';
import { PveApiClient } from '../../runner/agent/pve-api-client.js';
import { findSharedSchema } from '../../runner/sim/proxmox/schema.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../runner/sim/proxmox/server.js';
import { GOLDEN_TEMPLATE_FILE } from '../../runner/sim/proxmox/state.js';
import { simControl, simRequest, simulatedMountIdentity, type ControlTarget, type RawReply } from '../../runner/sim/proxmox/control-client.js';

/** apidata.js for the tests (findSharedSchema); a missing one fails the test, naming where it was looked for. */
export function pveSchemaFile(): string {
  const found = findSharedSchema(findProjectRoot());
  if (!found) throw new Error("PVE's API schema not found: expected shared/pve-api/apidata.js beside the repository (or set FELHOM_PVE_SCHEMA)");
  return found;
}

export interface TestSimulator {
  readonly sim: RunningSimulator;
  readonly api: PveApiClient;
  /** A control-API call (`/_sim/...`), resolving with its data. */
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

export async function startTestSimulator(t: Test, options: SimulatorOptions = {}): Promise<TestSimulator> {
  const sim = await startSimulator({ schemaFile: pveSchemaFile(), taskDelayMs: 50, ...options });
  t.teardown(() => sim.close());
  const api = new PveApiClient({ endpoint: sim.url, token: sim.token, ca: sim.certificate, pollMs: 20 });
  return { sim, api, control: (method, path, body) => simControl(controlTarget(sim), method, path, body) };
}

/** The simulator as a control-API target. */
export function controlTarget(sim: RunningSimulator): ControlTarget {
  return { url: sim.url, token: sim.token, certificate: sim.certificate };
}

/** A raw HTTPS request to the simulator, trusting its certificate; returns status, status text and body. */
export function rawRequest(sim: RunningSimulator, method: string, path: string, options: { body?: string; contentType?: string; authorization?: string | null } = {}): Promise<RawReply> {
  return simRequest(controlTarget(sim), method, path, options);
}

/** The simulator's view of a dir storage's disk, as `findmnt` would give it on a host. */
export function simMountIdentity(test: TestSimulator): (path: string) => Promise<string | undefined> {
  return simulatedMountIdentity(controlTarget(test.sim));
}

/**
 * The example home box's host as its host tier leaves it, built through the PVE API: the USB
 * disk, NAS and PBS storages, guest 200 from the golden template with its bulk mount point, and
 * the two backup jobs (`felhom-<box>-nightly-nas`, `felhom-<box>-weekly-offsite`).
 */
export async function hostAsApplied(sim: TestSimulator, box = 'hb-0001'): Promise<void> {
  const { api, control } = sim;
  const fingerprint = '9c:2e:41:7a:b0:5d:13:e8:66:f2:0a:c4:7b:91:d5:38:ae:12:4f:6c:b7:80:29:e3:5a:d1:0f:76:c8:43:9b:e2';
  await control('PUT', '/_sim/media', { key: 'dir:/mnt/felhom/usb-media', identity: '3f1c2a9e-8d4b-4c61-9a57-2b0e6d1f4a88' });
  await control('PUT', '/_sim/media', { key: 'pbs:pbs.felhom.hu/customers/customers/c-1042', identity: fingerprint });
  await api.post('/storage', { storage: 'usb-media', type: 'dir', path: '/mnt/felhom/usb-media', content: 'rootdir,images', 'create-base-path': 0 });
  await api.post('/storage', { storage: 'nas-backup', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup' });
  await api.post('/storage', { storage: 'offsite', type: 'pbs', server: 'pbs.felhom.hu', datastore: 'customers', namespace: 'customers/c-1042', fingerprint, username: `felhom-${box}@pbs!agent`, password: 'x', content: 'backup' });
  await api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, hostname: 'customer', ostemplate: `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`, rootfs: 'local-lvm:96', mp0: 'usb-media:1800,mp=/mnt/bulk/usb-media,backup=0' });
  await api.post('/cluster/backup', { id: `felhom-${box}-nightly-nas`, storage: 'nas-backup', schedule: '*-*-* 02:30', vmid: '200', enabled: 1 });
  await api.post('/cluster/backup', { id: `felhom-${box}-weekly-offsite`, storage: 'offsite', schedule: 'sun 04:00', vmid: '200', enabled: 1 });
}
