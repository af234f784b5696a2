/**
 * What the simulated host does for each PVE API endpoint the host tier uses (the proxmoxve
 * provider's calls and the agent's), on a {@link SimState}. Every request reaching a handler has
 * already passed PVE's parameter check (schema.ts); handlers refuse what PVE refuses beyond the
 * schema (an existing VM id, a running guest's removal, a locked config) with PVE's status and
 * message where known. Long operations return a UPID; their task stops after the state's task
 * delay, with `OK` or the error a fault injected. docs/pve-simulator.md lists what is a guess.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { checkPropertyString, type ParameterSchema, type PveApiSchema, type RequestParameters } from './schema.js';
import { splitList } from './formats.js';
import { defaultIdentity, mediumKey, type ConfigMap, type SimContainer, type SimMedium, type SimState, type SimTask, type SimVolume } from './state.js';
import type { Access } from './access.js';
import { accessHandlers } from './access-api.js';
import { SimApiError } from './errors.js';
import { checkBackupJob, checkContainerConfig, checkCreateContainer, checkResize, checkVzdump } from './method-checks.js';

export { SimApiError };

export interface ApiRequest {
  readonly method: string;
  /** The schema's template, e.g. `/nodes/{node}/lxc/{vmid}/config`. */
  readonly template: string;
  /** Path and body parameters together, as PVE passes them to a handler. */
  readonly params: RequestParameters;
  /** The token's user, `root@pam!felhom`. */
  readonly user: string;
  /** What this request may do (its token's privileges on the host's ACLs). */
  readonly access: Access;
}

type Handler = (sim: SimHost, request: ApiRequest) => unknown;

const GiB = 2 ** 30;

function text(params: RequestParameters, name: string): string | undefined {
  const value = params[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function required(params: RequestParameters, name: string): string {
  const value = text(params, name);
  if (value === undefined) throw new SimApiError(400, `missing ${name}`);
  return value;
}

function flag(params: RequestParameters, name: string): boolean {
  return text(params, name) === '1';
}

/** PVE's config digest: SHA-1 of the config as it is written to the file. */
function digestOf(config: ConfigMap): string {
  const lines = Object.keys(config).sort().map((key) => `${key}: ${config[key]}`);
  return createHash('sha1').update(lines.join('\n')).digest('hex');
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function hex8(value: number): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}

/** Keys of a create or update request that configure the container (the rest steer the call). */
const CONTROL_PARAMETERS = new Set(['node', 'vmid', 'ostemplate', 'storage', 'password', 'ssh-public-keys', 'start', 'restore', 'unique', 'force', 'pool', 'ignore-unpack-errors', 'delete', 'revert', 'digest', 'bwlimit', 'ha-managed']);
const VOLUME_KEY = /^(rootfs|mp\d+)$/;

/** The simulated host: state, schema (for property strings) and the task clock. */
export class SimHost {
  readonly state: SimState;
  readonly schema: PveApiSchema;
  constructor(state: SimState, schema: PveApiSchema) {
    this.state = state;
    this.schema = schema;
  }

  node(name: string): void {
    if (!this.state.nodes.some((node) => node.node === name)) throw new SimApiError(595, `no such cluster node '${name}'`);
  }

  /** Ends tasks whose time has come: releases the guest locks they held. */
  settle(): void {
    const at = Date.now();
    for (const guest of Object.values(this.state.containers)) {
      const task = guest.lockTask ? this.state.tasks[guest.lockTask] : undefined;
      if (guest.lockTask && (!task || task.endsAt <= at)) {
        delete guest.config.lock;
        delete guest.lockTask;
      }
    }
  }

  /**
   * Starts a task. A matching task fault makes it end with the fault's error instead of `OK`;
   * `effect` runs only when the task succeeds (PVE's worker would have done it) and may itself
   * throw SimApiError to fail the task with that message.
   */
  task(node: string, type: string, id: string, user: string, effect: () => string[] | void, lock?: { vmid: number; name: string }, onFailure?: () => void): string {
    const pid = this.state.nextPid++;
    const starttime = now();
    const upid = `UPID:${node}:${hex8(pid)}:${hex8(pid * 7)}:${hex8(starttime)}:${type}:${id}:${user}:`;
    const fault = this.state.faults.tasks.find((candidate) => candidate.type === type && (candidate.id === undefined || candidate.id === id));
    let exitstatus = 'OK';
    let log: string[] = [];
    if (fault) {
      exitstatus = fault.message ?? `simulated failure of ${type} ${id}`;
      if (fault.count !== undefined && --fault.count <= 0) this.state.faults.tasks.splice(this.state.faults.tasks.indexOf(fault), 1);
    } else {
      try {
        log = effect() ?? [];
      } catch (error) {
        if (!(error instanceof SimApiError)) throw error;
        exitstatus = error.message;
      }
    }
    if (exitstatus !== 'OK') onFailure?.();
    const record: SimTask = {
      upid, node, type, id, user, pid, pstart: pid * 7, starttime, endsAt: Date.now() + this.state.taskDelayMs, exitstatus,
      log: [...log, exitstatus === 'OK' ? 'TASK OK' : `TASK ERROR: ${exitstatus}`],
      ...(lock ? { lockVmid: lock.vmid } : {}),
    };
    this.state.tasks[upid] = record;
    const guest = lock ? this.state.containers[String(lock.vmid)] : undefined;
    if (lock && guest) {
      guest.config.lock = lock.name;
      guest.lockTask = upid;
    }
    return upid;
  }

  medium(config: ConfigMap): SimMedium {
    const key = mediumKey(config);
    let medium = this.state.media[key];
    if (!medium) {
      const identity = defaultIdentity(config);
      medium = { attached: true, volumes: [], total: 2000 * GiB, ...(identity ? { identity } : {}) };
      this.state.media[key] = medium;
    }
    return medium;
  }

  storage(id: string): ConfigMap {
    const config = this.state.storages[id];
    if (!config) throw new SimApiError(500, `storage '${id}' does not exist`);
    return config;
  }

  /** Whether the storage is usable now, and PVE's reason when it is not. */
  storageProblem(id: string): string | undefined {
    const config = this.storage(id);
    if (config.disable === '1') return `storage '${id}' is disabled`;
    const medium = this.medium(config);
    if (medium.attached) return undefined;
    if (config.type === 'dir') return `unable to activate storage '${id}' - directory is expected to be a mount point but is not mounted: '${config.path}'`;
    if (config.type === 'pbs') return `${config.server}: error fetching datastores - 500 Can't connect to ${config.server}:8007 (Connection timed out)`;
    return `storage '${id}' is not online`;
  }

  activeStorage(id: string, content: string): { config: ConfigMap; medium: SimMedium } {
    const problem = this.storageProblem(id);
    if (problem) throw new SimApiError(500, problem);
    const config = this.storage(id);
    if (!splitList(config.content ?? '').includes(content)) throw new SimApiError(500, `storage '${id}' does not support content type '${content}'`);
    return { config, medium: this.medium(config) };
  }

  guest(node: string, vmid: string): SimContainer {
    const guest = this.state.containers[vmid];
    if (!guest || guest.node !== node) throw new SimApiError(500, `Configuration file 'nodes/${node}/lxc/${vmid}.conf' does not exist`);
    return guest;
  }

  unlocked(guest: SimContainer): void {
    this.settle();
    if (guest.config.lock) throw new SimApiError(500, `CT is locked (${guest.config.lock})`);
  }

  /** Allocates a `<storage>:<GiB>` request on its storage; returns the volume id PVE writes. */
  allocate(vmid: number, storageId: string, sizeGiB: number, diskIndex: number): string {
    const { config, medium } = this.activeStorage(storageId, 'rootdir');
    const name = `vm-${vmid}-disk-${diskIndex}`;
    const volid = config.type === 'lvmthin' ? `${storageId}:${name}` : `${storageId}:${vmid}/${name}.raw`;
    medium.volumes.push({ volid, content: 'rootdir', format: 'raw', size: Math.round(sizeGiB * GiB), ctime: now(), vmid });
    return volid;
  }

  /**
   * Writes a container's volume keys (rootfs, mpN): a `<storage>:<size>` value is allocated on
   * that storage, an existing volume id is kept.
   */
  volumeValue(vmid: number, key: string, value: string, used: Set<number>): string {
    const format = this.lxcFormat(key);
    const parts = checkPropertyString(key, format, value, {});
    const volume = parts.volume ?? parts.mp ?? '';
    const allocation = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$/i.exec(volume);
    if (!allocation) return value;
    let index = 0;
    while (used.has(index)) index++;
    used.add(index);
    const volid = this.allocate(vmid, allocation[1]!, Number(allocation[2]), index);
    // The volume may come as the leading positional part or as `volume=` anywhere (the proxmoxve
    // provider sends `mp=<path>,volume=<storage>:<size>,...`); PVE prints it first, then the other keys.
    const rest = value.split(',').filter((part, at) => !(at === 0 && !part.includes('=')) && !part.startsWith('volume=') && !part.startsWith('size='));
    return [volid, ...rest, `size=${allocation[2]}G`].join(',');
  }

  lxcFormat(key: string): Record<string, ParameterSchema> {
    const method = this.schema.match('POST', '/nodes/pve/lxc')?.method;
    const family = key.startsWith('mp') ? 'mp[n]' : key;
    const format = method?.parameters?.properties?.[family]?.format;
    return typeof format === 'object' ? (format as Record<string, ParameterSchema>) : {};
  }

  /** Disk indexes already used by a guest's volumes. */
  usedDisks(config: ConfigMap): Set<number> {
    const used = new Set<number>();
    for (const [key, value] of Object.entries(config)) {
      if (!VOLUME_KEY.test(key) && !key.startsWith('unused')) continue;
      const match = /vm-\d+-disk-(\d+)/.exec(value);
      if (match) used.add(Number(match[1]));
    }
    return used;
  }

  /** Removes a guest's volumes from their media. */
  freeVolumes(config: ConfigMap): void {
    for (const [key, value] of Object.entries(config)) {
      if (!VOLUME_KEY.test(key) && !key.startsWith('unused')) continue;
      const volid = value.split(',')[0]!.replace(/^volume=/, '');
      for (const medium of Object.values(this.state.media)) {
        const at = medium.volumes.findIndex((volume) => volume.volid === volid);
        if (at >= 0) medium.volumes.splice(at, 1);
      }
    }
  }
}

function newMac(): string {
  const bytes = randomBytes(5);
  return ['BC', ...[...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, '0'))].join(':');
}

/** Gives each netN a hwaddr when it has none (PVE generates one), or a new one for a unique restore. */
function withMacs(config: ConfigMap, fresh: boolean): ConfigMap {
  const result = { ...config };
  for (const [key, value] of Object.entries(config)) {
    if (!/^net\d+$/.test(key)) continue;
    const parts = value.split(',').filter((part) => !(fresh && part.startsWith('hwaddr=')));
    if (!parts.some((part) => part.startsWith('hwaddr='))) parts.splice(1, 0, `hwaddr=${newMac()}`);
    result[key] = parts.join(',');
  }
  return result;
}

function guestSummary(guest: SimContainer): Record<string, unknown> {
  const memory = Number(guest.config.memory ?? 512);
  const rootSize = /size=(\d+)G/.exec(guest.config.rootfs ?? '')?.[1];
  return {
    vmid: guest.vmid,
    name: guest.config.hostname ?? `CT${guest.vmid}`,
    status: guest.status,
    type: 'lxc',
    cpus: Number(guest.config.cores ?? 1),
    maxmem: memory * 2 ** 20,
    maxswap: Number(guest.config.swap ?? 512) * 2 ** 20,
    maxdisk: Number(rootSize ?? 8) * GiB,
    mem: guest.status === 'running' ? Math.round(memory * 2 ** 20 * 0.2) : 0,
    uptime: guest.status === 'running' && guest.startedAt ? now() - guest.startedAt : 0,
    cpu: 0,
    disk: 0,
    netin: 0,
    netout: 0,
    diskread: 0,
    diskwrite: 0,
    ...(guest.config.tags ? { tags: guest.config.tags } : {}),
    ...(guest.config.lock ? { lock: guest.config.lock } : {}),
    ...(guest.config.template === '1' ? { template: 1 } : {}),
  };
}

function configParameters(params: RequestParameters): ConfigMap {
  const config: ConfigMap = {};
  for (const [key, value] of Object.entries(params)) {
    if (CONTROL_PARAMETERS.has(key)) continue;
    config[key] = Array.isArray(value) ? value.join(',') : value;
    // PVE keeps a guest's description as comment lines of its config file and reads it back
    // with a newline at the end (the proxmoxve provider appends one to match).
    if (key === 'description' && config[key] !== '' && !config[key]!.endsWith('\n')) config[key] += '\n';
  }
  return config;
}

/** Applies a create/update's config keys onto `config`, allocating new volumes. */
function applyConfig(sim: SimHost, vmid: number, config: ConfigMap, changes: ConfigMap): void {
  const used = sim.usedDisks(config);
  for (const [key, value] of Object.entries(changes)) {
    if (VOLUME_KEY.test(key)) {
      const previous = config[key];
      const next = sim.volumeValue(vmid, key, value, used);
      const previousVolume = previous?.split(',')[0];
      if (previousVolume && previousVolume !== next.split(',')[0]) {
        let unused = 0;
        while (config[`unused${unused}`] !== undefined) unused++;
        config[`unused${unused}`] = previousVolume;
      }
      config[key] = next;
    } else config[key] = value;
  }
}

function storageStatus(sim: SimHost, id: string, config: ConfigMap): Record<string, unknown> {
  const medium = sim.medium(config);
  const enabled = config.disable === '1' ? 0 : 1;
  const active = enabled && medium.attached ? 1 : 0;
  const used = medium.volumes.reduce((sum, volume) => sum + volume.size, 0);
  return {
    storage: id,
    type: config.type,
    content: config.content ?? '',
    enabled,
    active,
    shared: ['nfs', 'cifs', 'pbs'].includes(config.type ?? '') ? 1 : 0,
    total: active ? medium.total : 0,
    used: active ? used : 0,
    avail: active ? medium.total - used : 0,
    ...(active ? { used_fraction: used / medium.total } : {}),
  };
}

/** Storage config keys PVE keeps out of storage.cfg (in /etc/pve/priv) and never returns. */
const STORAGE_SECRETS = ['password', 'encryption-key', 'keyring', 'master-pubkey'];

function publicStorage(id: string, config: ConfigMap): Record<string, unknown> {
  const shown: Record<string, unknown> = { storage: id, digest: digestOf(config) };
  for (const [key, value] of Object.entries(config)) if (!STORAGE_SECRETS.includes(key)) shown[key] = value;
  if (config['encryption-key']) shown['encryption-key'] = 'fingerprint only';
  return shown;
}

function backupVolid(storage: string, config: ConfigMap, vmid: number, at: Date): string {
  const stamp = at.toISOString().replace(/\.\d+Z$/, 'Z');
  if (config.type === 'pbs') return `${storage}:backup/ct/${vmid}/${stamp}`;
  const file = stamp.replace(/[-:]/g, '_').replace('T', '-').replace(/_?Z$/, '').replace(/^(\d+)_(\d+)_(\d+)/, '$1_$2_$3');
  return `${storage}:backup/vzdump-lxc-${vmid}-${file}.tar.zst`;
}

function snapshotList(guest: SimContainer): Record<string, unknown>[] {
  return [
    ...Object.entries(guest.snapshots).map(([name, snapshot]) => ({
      name,
      description: snapshot.description,
      snaptime: snapshot.snaptime,
      ...(snapshot.parent ? { parent: snapshot.parent } : {}),
    })),
    { name: 'current', description: 'You are here!', running: guest.status === 'running' ? 1 : 0, ...(guest.parent ? { parent: guest.parent } : {}) },
  ];
}

function startGuest(guest: SimContainer): void {
  guest.status = 'running';
  guest.startedAt = now();
}

function createContainer(sim: SimHost, request: ApiRequest): string {
  const { params, user } = request;
  const node = required(params, 'node');
  const vmid = Number(required(params, 'vmid'));
  const ostemplate = required(params, 'ostemplate');
  const restore = flag(params, 'restore');
  const existing = sim.state.containers[String(vmid)];
  if (existing && !(restore && flag(params, 'force'))) throw new SimApiError(500, `CT ${vmid} already exists on node '${existing.node}'`);
  const { unprivileged: _unprivileged, ...checked } = configParameters(params);
  checkCreateContainer(request.access, sim.state, params, checked, existing !== undefined);
  if (existing) sim.unlocked(existing);
  const [templateStorage] = ostemplate.split(':');
  const volume = (): SimVolume => {
    const { medium } = sim.activeStorage(templateStorage!, restore ? 'backup' : 'vztmpl');
    const found = medium.volumes.find((candidate) => candidate.volid === ostemplate);
    if (!found) throw new SimApiError(500, `volume '${ostemplate}' does not exist`);
    return found;
  };
  volume(); // PVE checks the template or archive before it forks the worker
  const placeholder: SimContainer = { vmid, node, config: { ...(existing?.config ?? {}) }, status: 'stopped', snapshots: {}, healthy: true };
  sim.state.containers[String(vmid)] = placeholder;
  return sim.task(node, restore ? 'vzrestore' : 'vzcreate', String(vmid), user, () => {
    if (existing) sim.freeVolumes(existing.config);
    let config: ConfigMap = {};
    const requested = configParameters(params);
    if (restore) {
      const archive = volume().guestConfig ?? {};
      const storage = text(params, 'storage') ?? 'local-lvm';
      // The archive's volumes are re-allocated on the target storage (rootfs) or their own (bulk).
      const restored: ConfigMap = {};
      for (const [key, value] of Object.entries(archive)) {
        if (key.startsWith('unused') || key === 'lock') continue;
        if (VOLUME_KEY.test(key)) {
          const size = /size=(\d+(?:\.\d+)?)G/.exec(value)?.[1] ?? '8';
          const target = key === 'rootfs' ? storage : value.split(':')[0]!;
          restored[key] = [`${target}:${size}`, ...value.split(',').slice(1).filter((part) => !part.startsWith('size='))].join(',');
        } else restored[key] = value;
      }
      applyConfig(sim, vmid, config, { ...restored, ...requested });
      config = withMacs(config, flag(params, 'unique'));
    } else {
      if (!requested.rootfs) requested.rootfs = `${text(params, 'storage') ?? 'local'}:4`;
      applyConfig(sim, vmid, config, requested);
      config = withMacs(config, false);
      config.arch ??= 'amd64';
      config.ostype ??= 'debian';
    }
    placeholder.config = config;
    if (flag(params, 'start')) startGuest(placeholder);
    return [restore ? `restoring '${ostemplate}' now..` : `extracting archive '${ostemplate}'`];
  }, { vmid, name: 'create' }, () => {
    // A failed create leaves nothing behind (PVE destroys the half-made container).
    if (existing) sim.state.containers[String(vmid)] = existing;
    else delete sim.state.containers[String(vmid)];
  });
}

function updateConfig(sim: SimHost, request: ApiRequest): null {
  const { params } = request;
  const guest = sim.guest(required(params, 'node'), required(params, 'vmid'));
  sim.unlocked(guest);
  const digest = text(params, 'digest');
  if (digest && digest !== digestOf(guest.config)) throw new SimApiError(500, 'detected modified configuration - file changed by other user? Try again.');
  const config = { ...guest.config };
  const deleted = splitList(text(params, 'delete') ?? '');
  checkContainerConfig(request.access, sim.state, guest.vmid, guest.config, configParameters(params), deleted, guest.config.unprivileged !== '0');
  for (const key of deleted) {
    if (key === 'rootfs') throw new SimApiError(500, 'unable to delete required option \'rootfs\'');
    const value = config[key];
    if (value !== undefined && /^mp\d+$/.test(key)) {
      let unused = 0;
      while (config[`unused${unused}`] !== undefined) unused++;
      config[`unused${unused}`] = value.split(',')[0]!;
    }
    delete config[key];
  }
  const changes = configParameters(params);
  applyConfig(sim, guest.vmid, config, changes);
  // A new or changed interface without a MAC gets one, as PVE generates it.
  const withAddresses = withMacs(Object.fromEntries(Object.entries(config).filter(([key]) => key in changes)), false);
  guest.config = { ...config, ...withAddresses };
  return null;
}

function powerTask(type: 'vzstart' | 'vzstop' | 'vzshutdown' | 'vzreboot'): Handler {
  return (sim, { params, user }) => {
    const node = required(params, 'node');
    const guest = sim.guest(node, required(params, 'vmid'));
    sim.unlocked(guest);
    if (type === 'vzstart' && guest.status === 'running') throw new SimApiError(500, `CT ${guest.vmid} already running`);
    if (type !== 'vzstart' && guest.status !== 'running') throw new SimApiError(500, `CT ${guest.vmid} not running`);
    return sim.task(node, type, String(guest.vmid), user, () => {
      if (type === 'vzstop' || type === 'vzshutdown') guest.status = 'stopped';
      else startGuest(guest);
    });
  };
}

function deleteContainer(sim: SimHost, { params, user }: ApiRequest): string {
  const node = required(params, 'node');
  const guest = sim.guest(node, required(params, 'vmid'));
  sim.unlocked(guest);
  if (guest.status === 'running' && !flag(params, 'force')) throw new SimApiError(500, `CT ${guest.vmid} is running - destroy failed`);
  if (guest.config.protection === '1') throw new SimApiError(500, `can't remove CT ${guest.vmid} - protection mode enabled`);
  return sim.task(node, 'vzdestroy', String(guest.vmid), user, () => {
    sim.freeVolumes(guest.config);
    for (const snapshot of Object.values(guest.snapshots)) sim.freeVolumes(snapshot.config);
    delete sim.state.containers[String(guest.vmid)];
    if (flag(params, 'purge')) {
      for (const [id, job] of Object.entries(sim.state.backupJobs)) {
        const remaining = splitList(job.vmid ?? '').filter((vmid) => vmid !== String(guest.vmid));
        if (remaining.length > 0) job.vmid = remaining.join(',');
        else if (job.vmid !== undefined) delete sim.state.backupJobs[id];
      }
    }
  });
}

function vzdump(sim: SimHost, { params, user, access }: ApiRequest): string {
  const node = required(params, 'node');
  const storage = text(params, 'storage') ?? 'local';
  const vmids = flag(params, 'all') ? Object.keys(sim.state.containers) : splitList(text(params, 'vmid') ?? '');
  if (vmids.length === 0) throw new SimApiError(400, 'no guests selected');
  checkVzdump(access, params, vmids, storage);
  const guests = vmids.map((vmid) => sim.guest(node, vmid));
  return sim.task(node, 'vzdump', vmids.length === 1 ? vmids[0]! : '', user, () => {
    const { config, medium } = sim.activeStorage(storage, 'backup');
    const log: string[] = [];
    for (const guest of guests) {
      const at = new Date();
      const volid = backupVolid(storage, config, guest.vmid, at);
      // Mount points with backup=0 (bulk data, docs/architecture.md#backup-scope) stay out of the archive.
      const excluded = Object.entries(guest.config).filter(([key, value]) => /^mp\d+$/.test(key) && !/(^|,)backup=1(,|$)/.test(value)).map(([key]) => key);
      const rootSize = Number(/size=(\d+)G/.exec(guest.config.rootfs ?? '')?.[1] ?? 8);
      medium.volumes.push({ volid, content: 'backup', format: config.type === 'pbs' ? 'pbs-ct' : 'tar.zst', size: Math.round(rootSize * GiB * 0.05), ctime: Math.floor(at.getTime() / 1000), vmid: guest.vmid, notes: `${guest.config.hostname ?? guest.vmid}`, guestConfig: { ...guest.config } });
      log.push(`INFO: Starting Backup of VM ${guest.vmid} (lxc)`, ...excluded.map((key) => `INFO: excluding volume mount point ${key} ('${guest.config[key]!.split(',')[0]}') from backup (disabled)`), `INFO: creating vzdump archive '${volid}'`, `INFO: Finished Backup of VM ${guest.vmid}`);
    }
    return log;
  });
}

function createSnapshot(sim: SimHost, { params, user }: ApiRequest): string {
  const node = required(params, 'node');
  const guest = sim.guest(node, required(params, 'vmid'));
  const name = required(params, 'snapname');
  sim.unlocked(guest);
  if (name === 'current') throw new SimApiError(500, "snapshot name 'current' is reserved");
  if (guest.snapshots[name]) throw new SimApiError(500, `snapshot name '${name}' already used`);
  return sim.task(node, 'vzsnapshot', String(guest.vmid), user, () => {
    const { lock: _lock, ...config } = guest.config;
    guest.snapshots[name] = { config, snaptime: now(), description: text(params, 'description') ?? '', ...(guest.parent ? { parent: guest.parent } : {}) };
    guest.parent = name;
  }, { vmid: guest.vmid, name: 'snapshot' });
}

function snapshotOf(sim: SimHost, params: RequestParameters): { guest: SimContainer; name: string } {
  const guest = sim.guest(required(params, 'node'), required(params, 'vmid'));
  const name = required(params, 'snapname');
  if (!guest.snapshots[name]) throw new SimApiError(500, `snapshot '${name}' does not exist`);
  return { guest, name };
}

function rollbackSnapshot(sim: SimHost, { params, user }: ApiRequest): string {
  const { guest, name } = snapshotOf(sim, params);
  sim.unlocked(guest);
  return sim.task(guest.node, 'vzrollback', String(guest.vmid), user, () => {
    guest.config = { ...guest.snapshots[name]!.config };
    guest.parent = name;
    guest.status = 'stopped';
    if (flag(params, 'start')) startGuest(guest);
  }, { vmid: guest.vmid, name: 'rollback' });
}

/** `pct resize`: grows a volume (PVE refuses to shrink); `size` is `<n>G` (the new size) or `+<n>G` (added). */
function resizeVolume(sim: SimHost, { params, user, access }: ApiRequest): string {
  const guest = sim.guest(required(params, 'node'), required(params, 'vmid'));
  sim.unlocked(guest);
  const disk = required(params, 'disk');
  const value = guest.config[disk];
  if (!VOLUME_KEY.test(disk) || value === undefined) throw new SimApiError(500, `disk '${disk}' does not exist`);
  checkResize(access, value);
  const size = /^(\+)?(\d+)G$/.exec(required(params, 'size'));
  if (!size) throw new SimApiError(400, "size: expected '<n>G' or '+<n>G'");
  const current = Number(/(?:^|,)size=(\d+)G/.exec(value)?.[1] ?? 0);
  const next = size[1] ? current + Number(size[2]) : Number(size[2]);
  if (next < current) throw new SimApiError(500, 'unable to shrink disk size');
  return sim.task(guest.node, 'resize', String(guest.vmid), user, () => {
    guest.config[disk] = /(?:^|,)size=\d+G/.test(value) ? value.replace(/size=\d+G/, `size=${next}G`) : `${value},size=${next}G`;
  }, { vmid: guest.vmid, name: 'disk' });
}

function deleteSnapshot(sim: SimHost, { params, user }: ApiRequest): string {
  const { guest, name } = snapshotOf(sim, params);
  sim.unlocked(guest);
  return sim.task(guest.node, 'vzdelsnapshot', String(guest.vmid), user, () => {
    const removed = guest.snapshots[name]!;
    delete guest.snapshots[name];
    for (const snapshot of Object.values(guest.snapshots)) if (snapshot.parent === name) Object.assign(snapshot, { parent: removed.parent });
    if (guest.parent === name) {
      if (removed.parent) guest.parent = removed.parent;
      else delete guest.parent;
    }
  }, { vmid: guest.vmid, name: 'snapshot-delete' });
}

/** A task by UPID; someone else's needs `privilege` on its node. */
function taskOf(sim: SimHost, params: RequestParameters, access: Access, privilege: 'Sys.Audit' | 'Sys.Modify'): SimTask {
  const upid = required(params, 'upid');
  const task = sim.state.tasks[upid];
  if (!task || task.node !== required(params, 'node')) throw new SimApiError(500, `unable to parse worker upid '${upid}'`);
  if (task.user !== access.authid) access.check(`/nodes/${task.node}`, [privilege]);
  return task;
}

/** PVE lists a storage to whoever may audit it or allocate space on it. */
function mayListStorage(access: Access, id: string): boolean {
  return access.has(`/storage/${id}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], true);
}

function taskStatus(task: SimTask): Record<string, unknown> {
  const running = Date.now() < task.endsAt;
  return {
    upid: task.upid, node: task.node, pid: task.pid, pstart: task.pstart, starttime: task.starttime, type: task.type, id: task.id, user: task.user,
    status: running ? 'running' : 'stopped',
    ...(running ? {} : { exitstatus: task.exitstatus }),
  };
}

function createStorage(sim: SimHost, { params }: ApiRequest): Record<string, unknown> {
  const id = required(params, 'storage');
  if (sim.state.storages[id]) throw new SimApiError(500, `create storage failed: storage ID '${id}' already defined`);
  const config: ConfigMap = { ...configParametersOf(params), storage: id };
  const type = config.type!;
  if (type === 'dir' && !config.path) throw new SimApiError(400, "missing value for required option 'path'");
  if (type === 'nfs' && (!config.server || !config.export)) throw new SimApiError(400, "missing value for required option 'export'");
  if (type === 'cifs' && (!config.server || !config.share)) throw new SimApiError(400, "missing value for required option 'share'");
  if (type === 'pbs') {
    if (!config.server || !config.datastore) throw new SimApiError(400, "missing value for required option 'datastore'");
    const medium = sim.medium(config);
    // PVE asks the PBS for its datastores before it saves the definition.
    if (!medium.attached) throw new SimApiError(500, `create storage failed: ${config.server}: error fetching datastores - 500 Can't connect to ${config.server}:8007 (Connection timed out)`);
    if (config.fingerprint && medium.identity && medium.identity.toLowerCase() !== config.fingerprint.toLowerCase()) {
      throw new SimApiError(500, `create storage failed: ${config.server}: error fetching datastores - fingerprint '${medium.identity}' not verified, abort!`);
    }
  }
  if (!config.content) config.content = type === 'pbs' ? 'backup' : type === 'dir' ? 'vztmpl,iso,backup' : 'images';
  sim.state.storages[id] = config;
  sim.medium(config);
  return { storage: id, type };
}

function configParametersOf(params: RequestParameters): ConfigMap {
  const config: ConfigMap = {};
  for (const [key, value] of Object.entries(params)) {
    if (key === 'digest' || key === 'delete') continue;
    config[key] = Array.isArray(value) ? value.join(',') : value;
  }
  return config;
}

function updateStorage(sim: SimHost, { params }: ApiRequest): Record<string, unknown> {
  const id = required(params, 'storage');
  const config = { ...sim.storage(id) };
  const digest = text(params, 'digest');
  if (digest && digest !== digestOf(config)) throw new SimApiError(500, 'detected modified configuration - file changed by other user? Try again.');
  for (const key of splitList(text(params, 'delete') ?? '')) delete config[key];
  Object.assign(config, configParametersOf(params));
  sim.state.storages[id] = config;
  return { storage: id, type: config.type };
}

function updateJob(sim: SimHost, { params, access }: ApiRequest): null {
  const id = required(params, 'id');
  const job = sim.state.backupJobs[id];
  if (!job) throw new SimApiError(500, `job '${id}' does not exist`);
  checkBackupJob(access, params, job);
  const digest = text(params, 'digest');
  if (digest && digest !== digestOf(job)) throw new SimApiError(500, 'detected modified configuration - file changed by other user? Try again.');
  const next = { ...job };
  for (const key of splitList(text(params, 'delete') ?? '')) delete next[key];
  Object.assign(next, configParametersOf(params));
  sim.state.backupJobs[id] = next;
  return null;
}

function jobView(id: string, job: ConfigMap): Record<string, unknown> {
  const view: Record<string, unknown> = { ...job, id, type: 'vzdump' };
  if (job['exclude-path'] !== undefined) view['exclude-path'] = splitList(job['exclude-path']);
  return view;
}

/** The handlers, by method and schema path. A schema path without one answers 501 (not simulated). */
export const handlers: Readonly<Record<string, Handler>> = {
  'GET /version': (sim) => ({ ...sim.state.version }),
  'GET /nodes': (sim) => sim.state.nodes.map((node) => ({ node: node.node, status: node.status, type: 'node', id: `node/${node.node}`, level: '', maxcpu: 4, maxmem: 32 * GiB, cpu: 0.02, mem: 4 * GiB, uptime: 86_400, ssl_fingerprint: '' })),
  'GET /nodes/{node}/status': (sim, { params }) => {
    sim.node(required(params, 'node'));
    return {
      cpu: 0.02, wait: 0, uptime: 86_400, idle: 0, loadavg: ['0.10', '0.08', '0.05'], kversion: 'Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC', pveversion: `pve-manager/${sim.state.version.version}/simulated`,
      cpuinfo: { cpus: 4, cores: 4, sockets: 1, model: 'Simulated CPU', mhz: '2400.000', hvm: '1', user_hz: 100, flags: '' },
      memory: { total: 32 * GiB, used: 4 * GiB, free: 28 * GiB, available: 28 * GiB }, swap: { total: 8 * GiB, used: 0, free: 8 * GiB },
      rootfs: { total: 100 * GiB, used: 10 * GiB, free: 90 * GiB, avail: 90 * GiB }, ksm: { shared: 0 },
      'current-kernel': { sysname: 'Linux', release: '6.14.8-2-pve', version: '#1 SMP PREEMPT_DYNAMIC', machine: 'x86_64' },
      'boot-info': { mode: 'efi', secureboot: 0 },
    };
  },
  'GET /cluster/nextid': (sim, { params }) => {
    const wanted = text(params, 'vmid');
    if (wanted !== undefined) {
      if (sim.state.containers[wanted]) throw new SimApiError(400, `VM ${wanted} already exists`);
      return wanted;
    }
    let id = 100;
    while (sim.state.containers[String(id)]) id++;
    return String(id);
  },
  'GET /cluster/resources': (sim, { params, access }) => {
    const type = text(params, 'type');
    const resources: Record<string, unknown>[] = [];
    if (!type || type === 'vm') for (const guest of Object.values(sim.state.containers).filter((candidate) => access.has(`/vms/${candidate.vmid}`, ['VM.Audit']))) resources.push({ ...guestSummary(guest), id: `lxc/${guest.vmid}`, node: guest.node });
    if (!type || type === 'node') for (const node of sim.state.nodes) resources.push({ id: `node/${node.node}`, type: 'node', node: node.node, status: node.status });
    if (!type || type === 'storage') {
      for (const [id, config] of Object.entries(sim.state.storages).filter(([candidate]) => mayListStorage(access, candidate))) {
        const status = storageStatus(sim, id, config);
        for (const node of sim.state.nodes) resources.push({ id: `storage/${node.node}/${id}`, type: 'storage', node: node.node, storage: id, status: status.active ? 'available' : 'unknown', plugintype: config.type, content: config.content, maxdisk: status.total, disk: status.used, shared: status.shared });
      }
    }
    return resources;
  },
  'GET /storage': (sim, { params, access }) => {
    const type = text(params, 'type');
    return Object.entries(sim.state.storages).filter(([id, config]) => (!type || config.type === type) && mayListStorage(access, id)).map(([id, config]) => publicStorage(id, config));
  },
  'POST /storage': createStorage,
  'GET /storage/{storage}': (sim, { params }) => {
    const id = required(params, 'storage');
    return publicStorage(id, sim.storage(id));
  },
  'PUT /storage/{storage}': updateStorage,
  'DELETE /storage/{storage}': (sim, { params }) => {
    const id = required(params, 'storage');
    sim.storage(id);
    delete sim.state.storages[id];
    return null;
  },
  'GET /nodes/{node}/storage': (sim, { params, access }) => {
    sim.node(required(params, 'node'));
    const content = text(params, 'content');
    const only = text(params, 'storage');
    return Object.entries(sim.state.storages)
      .filter(([id, config]) => (!only || id === only) && (!content || splitList(config.content ?? '').includes(content)) && mayListStorage(access, id))
      .filter(([, config]) => !flag(params, 'enabled') || config.disable !== '1')
      .map(([id, config]) => storageStatus(sim, id, config));
  },
  'GET /nodes/{node}/storage/{storage}/status': (sim, { params }) => {
    sim.node(required(params, 'node'));
    const id = required(params, 'storage');
    return storageStatus(sim, id, sim.storage(id));
  },
  'GET /nodes/{node}/storage/{storage}/content': (sim, { params }) => {
    sim.node(required(params, 'node'));
    const id = required(params, 'storage');
    const problem = sim.storageProblem(id);
    if (problem) throw new SimApiError(500, problem);
    const content = text(params, 'content');
    const vmid = text(params, 'vmid');
    return sim.medium(sim.storage(id)).volumes
      .filter((volume) => (!content || volume.content === content) && (!vmid || String(volume.vmid) === vmid))
      .map((volume) => ({
        volid: volume.volid.replace(/^[^:]+:/, `${id}:`),
        content: volume.content, format: volume.format, size: volume.size, ctime: volume.ctime,
        ...(volume.vmid !== undefined ? { vmid: volume.vmid } : {}),
        ...(volume.notes !== undefined ? { notes: volume.notes } : {}),
      }));
  },
  'GET /nodes/{node}/lxc': (sim, { params, access }) => {
    const node = required(params, 'node');
    sim.node(node);
    sim.settle();
    return Object.values(sim.state.containers).filter((guest) => guest.node === node && access.has(`/vms/${guest.vmid}`, ['VM.Audit'])).map(guestSummary);
  },
  'POST /nodes/{node}/lxc': createContainer,
  'GET /nodes/{node}/lxc/{vmid}': (sim, { params }) => {
    sim.guest(required(params, 'node'), required(params, 'vmid'));
    return ['config', 'status', 'snapshot', 'interfaces'].map((subdir) => ({ subdir }));
  },
  'DELETE /nodes/{node}/lxc/{vmid}': deleteContainer,
  'GET /nodes/{node}/lxc/{vmid}/config': (sim, { params }) => {
    const guest = sim.guest(required(params, 'node'), required(params, 'vmid'));
    sim.settle();
    const snapshot = text(params, 'snapshot');
    if (snapshot) {
      const taken = guest.snapshots[snapshot];
      if (!taken) throw new SimApiError(500, `snapshot '${snapshot}' does not exist`);
      return { ...taken.config, digest: digestOf(taken.config) };
    }
    return { ...guest.config, digest: digestOf(guest.config) };
  },
  'PUT /nodes/{node}/lxc/{vmid}/config': updateConfig,
  'GET /nodes/{node}/lxc/{vmid}/status/current': (sim, { params }) => {
    const guest = sim.guest(required(params, 'node'), required(params, 'vmid'));
    sim.settle();
    return { ...guestSummary(guest), ha: { managed: 0 } };
  },
  'POST /nodes/{node}/lxc/{vmid}/status/start': powerTask('vzstart'),
  'POST /nodes/{node}/lxc/{vmid}/status/stop': powerTask('vzstop'),
  'POST /nodes/{node}/lxc/{vmid}/status/shutdown': powerTask('vzshutdown'),
  'POST /nodes/{node}/lxc/{vmid}/status/reboot': powerTask('vzreboot'),
  'GET /nodes/{node}/lxc/{vmid}/interfaces': (sim, { params }) => {
    const guest = sim.guest(required(params, 'node'), required(params, 'vmid'));
    if (guest.status !== 'running') throw new SimApiError(500, `CT ${guest.vmid} not running`);
    const interfaces: Record<string, unknown>[] = [{ name: 'lo', hwaddr: '00:00:00:00:00:00', inet: '127.0.0.1/8' }];
    if (guest.healthy) {
      for (const [key, value] of Object.entries(guest.config)) {
        if (!/^net\d+$/.test(key)) continue;
        const name = /(?:^|,)name=([^,]+)/.exec(value)?.[1] ?? key.replace('net', 'eth');
        const ip = /(?:^|,)ip=([^,]+)/.exec(value)?.[1];
        interfaces.push({ name, hwaddr: (/(?:^|,)hwaddr=([^,]+)/.exec(value)?.[1] ?? '').toLowerCase(), ...(ip && ip !== 'dhcp' ? { inet: ip } : { inet: '192.168.1.77/24' }) });
      }
    }
    return interfaces;
  },
  'GET /nodes/{node}/lxc/{vmid}/snapshot': (sim, { params }) => snapshotList(sim.guest(required(params, 'node'), required(params, 'vmid'))),
  'POST /nodes/{node}/lxc/{vmid}/snapshot': createSnapshot,
  'GET /nodes/{node}/lxc/{vmid}/snapshot/{snapname}': (sim, { params }) => {
    snapshotOf(sim, params);
    return [{ rel: 'config' }, { rel: 'rollback' }];
  },
  'DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}': deleteSnapshot,
  'GET /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config': (sim, { params }) => {
    const { guest, name } = snapshotOf(sim, params);
    return { ...guest.snapshots[name]!.config };
  },
  'POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback': rollbackSnapshot,
  'PUT /nodes/{node}/lxc/{vmid}/resize': resizeVolume,
  'POST /nodes/{node}/vzdump': vzdump,
  'GET /cluster/backup': (sim) => Object.entries(sim.state.backupJobs).map(([id, job]) => jobView(id, job)),
  'POST /cluster/backup': (sim, { params, access }) => {
    const id = text(params, 'id') ?? `backup-${randomUUID().slice(0, 13)}`;
    checkBackupJob(access, params);
    if (sim.state.backupJobs[id]) throw new SimApiError(500, `Job '${id}' already exists`);
    if (!flag(params, 'all') && text(params, 'vmid') === undefined && text(params, 'pool') === undefined) throw new SimApiError(400, "one of 'vmid', 'all' or 'pool' is required");
    const job = configParametersOf(params);
    delete job.id;
    job.schedule ??= '00:00';
    job.enabled ??= '1';
    sim.state.backupJobs[id] = job;
    return null;
  },
  'GET /cluster/backup/{id}': (sim, { params }) => {
    const id = required(params, 'id');
    const job = sim.state.backupJobs[id];
    if (!job) throw new SimApiError(500, `job '${id}' does not exist`);
    return { ...jobView(id, job), digest: digestOf(job) };
  },
  'PUT /cluster/backup/{id}': updateJob,
  'DELETE /cluster/backup/{id}': (sim, { params }) => {
    const id = required(params, 'id');
    if (!sim.state.backupJobs[id]) throw new SimApiError(500, `job '${id}' does not exist`);
    delete sim.state.backupJobs[id];
    return null;
  },
  'GET /nodes/{node}/tasks': (sim, { params, access }) => {
    const node = required(params, 'node');
    sim.node(node);
    const vmid = text(params, 'vmid');
    const all = access.has(`/nodes/${node}`, ['Sys.Audit']);
    return Object.values(sim.state.tasks)
      .filter((task) => task.node === node && (!vmid || task.id === vmid) && (all || task.user === access.authid))
      .map((task) => {
        const status = taskStatus(task);
        return { ...status, ...(status.status === 'stopped' ? { status: task.exitstatus, endtime: Math.floor(task.endsAt / 1000) } : {}) };
      });
  },
  'GET /nodes/{node}/tasks/{upid}/status': (sim, { params, access }) => taskStatus(taskOf(sim, params, access, 'Sys.Audit')),
  'GET /nodes/{node}/tasks/{upid}/log': (sim, { params, access }) => {
    const task = taskOf(sim, params, access, 'Sys.Audit');
    const lines = Date.now() < task.endsAt ? task.log.slice(0, -1) : task.log;
    return lines.map((line, index) => ({ n: index + 1, t: line }));
  },
  'DELETE /nodes/{node}/tasks/{upid}': (sim, { params, access }) => {
    const task = taskOf(sim, params, access, 'Sys.Modify');
    if (Date.now() < task.endsAt) Object.assign(sim.state.tasks, { [task.upid]: { ...task, endsAt: Date.now(), exitstatus: 'interrupted by signal' } });
    return null;
  },
  ...Object.fromEntries(Object.entries(accessHandlers).map(([route, handler]) => [route, (sim: SimHost, request: ApiRequest) => handler(sim.state, request)])),
};
