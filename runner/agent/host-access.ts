/**
 * How a host-tier agent reaches its Proxmox host over the PVE API: when FELHOM_PROXMOX_API names
 * an endpoint (`https://127.0.0.1:8006` on the host itself, or the PVE API simulator), the agent
 * runs its host operations (snapshot, rollback, restore) and its per-cycle storage check through
 * it, with the API token the host tier uses (`<state>/secrets/proxmox-api-token`).
 *
 *   FELHOM_PROXMOX_API        the endpoint
 *   FELHOM_PROXMOX_NODE       the node name (default: the short host name)
 *   FELHOM_PROXMOX_CA         a PEM file to trust (default: a loopback endpoint's self-signed certificate is accepted)
 *   FELHOM_PROXMOX_SIMULATED  1: the endpoint is the PVE API simulator; mounted disks are read from it, not from findmnt
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { HostOperations } from './deploy.js';
import { PROXMOX_TOKEN_REF } from './environment.js';
import { AgentSetupError } from './errors.js';
import { ProxmoxApiOperations, type ProxmoxApiOptions } from './proxmox-api-operations.js';
import { readSecretFile } from './state-dir.js';
import { findmntIdentity, pveStorageProbe, StorageMonitor } from './storage-health.js';

export interface HostAccess {
  readonly hostOperations?: HostOperations;
  readonly storageMonitor?: StorageMonitor;
}

const LOOPBACK = /^https:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/;

/** How to reach the PVE API FELHOM_PROXMOX_API names, with the host tier's token; undefined when it is unset. */
export async function proxmoxApiOptions(env: NodeJS.ProcessEnv, stateDir: string): Promise<(ProxmoxApiOptions & { readonly token: string; readonly ca?: string }) | undefined> {
  const endpoint = env.FELHOM_PROXMOX_API;
  if (!endpoint) return undefined;
  if (!/^https:\/\/[^/\s]+\/?$/.test(endpoint)) throw new AgentSetupError(`FELHOM_PROXMOX_API: expected https://<host>:<port>, got ${JSON.stringify(endpoint)}`);
  const tokenFile = join(stateDir, 'secrets', PROXMOX_TOKEN_REF);
  const token = await readSecretFile(tokenFile);
  if (!token) throw new AgentSetupError(`FELHOM_PROXMOX_API is set but there is no Proxmox API token in ${tokenFile} (mode 0600)`);
  let ca: string | undefined;
  if (env.FELHOM_PROXMOX_CA) {
    try {
      ca = await readFile(env.FELHOM_PROXMOX_CA, 'utf8');
    } catch (cause) {
      throw new AgentSetupError(`FELHOM_PROXMOX_CA: cannot read ${env.FELHOM_PROXMOX_CA}`, { cause });
    }
  }
  const node = env.FELHOM_PROXMOX_NODE || hostname().split('.')[0]!;
  return { endpoint, token, node, ...(ca ? { ca } : { insecure: LOOPBACK.test(endpoint) }) };
}

/** Host operations and the storage monitor over the PVE API, or nothing when FELHOM_PROXMOX_API is unset. */
export async function proxmoxApiAccess(env: NodeJS.ProcessEnv, stateDir: string): Promise<HostAccess> {
  const api = await proxmoxApiOptions(env, stateDir);
  if (!api) return {};
  const { endpoint, token, node, ca } = api;
  const operations = new ProxmoxApiOperations(api);
  let mountIdentity = findmntIdentity;
  if (env.FELHOM_PROXMOX_SIMULATED === '1') {
    const { simulatedMountIdentity } = await import('../sim/proxmox/control-client.js');
    mountIdentity = simulatedMountIdentity({ url: endpoint.replace(/\/+$/, ''), token, ...(ca ? { certificate: ca } : {}) });
  }
  return { hostOperations: operations, storageMonitor: new StorageMonitor(pveStorageProbe(operations.client, node, mountIdentity)) };
}
