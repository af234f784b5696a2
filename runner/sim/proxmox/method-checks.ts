/**
 * The permission checks PVE makes inside a method (`user => 'all'` in its schema, "check
 * inside"), for the methods the host tier calls: a container's create, restore and config change
 * (pve-container's create_vm and check_ct_modify_config_perm), a volume's use
 * (PVE::Storage::check_volume_access), resize, vzdump and backup jobs (pve-manager's VZDump and
 * Backup API). Each throws PVE's 403 through {@link Access}. Test and demo tool.
 */
import type { Access } from './access.js';
import { splitList } from './formats.js';
import type { RequestParameters } from './schema.js';
import type { ConfigMap, SimState } from './state.js';
import { parameterError, SimApiError } from './errors.js';

/** A `<storage>:<size>` value of rootfs/mpN: a new volume to allocate on that storage. */
const NEW_DISK = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(\.\d+)?)$/i;

function features(value: string | undefined): Record<string, string> {
  const parsed: Record<string, string> = {};
  for (const part of splitList(value ?? '')) {
    const [key, setting] = part.split('=');
    if (key) parsed[key] = setting ?? '1';
  }
  return parsed;
}

/** The ACL path of a bridge (PVE's check_vnet_access in the `localnetwork` zone; SDN vnets are not simulated). */
function checkBridge(access: Access, net: string): void {
  const bridge = /(?:^|,)bridge=([^,]+)/.exec(net)?.[1];
  if (!bridge) return;
  const tag = /(?:^|,)tag=(\d+)/.exec(net)?.[1];
  const trunks = /(?:^|,)trunks=([^,]+)/.exec(net)?.[1];
  if (tag) access.check(`/sdn/zones/localnetwork/${bridge}/${tag}`, ['SDN.Use']);
  for (const trunk of (trunks ?? '').split(';').filter(Boolean)) access.check(`/sdn/zones/localnetwork/${bridge}/${trunk}`, ['SDN.Use']);
  if (!tag && !trunks) access.check(`/sdn/zones/localnetwork/${bridge}`, ['SDN.Use']);
}

/** PVE::Storage::check_volume_access for a volume id, with the content type the caller expects. */
export function checkVolumeAccess(access: Access, state: SimState, vmid: number, volid: string, type: string): void {
  if (access.actsAsRoot) return;
  const match = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i.exec(volid);
  if (!match) {
    access.rootOnly('Only root can pass arbitrary filesystem paths.');
    return;
  }
  const [, storage, name] = match as unknown as [string, string, string];
  if (access.has(`/storage/${storage}`, ['Datastore.Allocate'])) return;
  const owner = /(?:vm|ct|lxc)-(\d+)-/.exec(name)?.[1] ?? /^backup\/ct\/(\d+)\//.exec(name)?.[1];
  const vtype = name.startsWith('vztmpl/') ? 'vztmpl' : name.startsWith('iso/') ? 'iso' : name.startsWith('backup/') ? 'backup' : type;
  if (vtype === 'vztmpl' || vtype === 'iso') access.check(`/storage/${storage}`, ['Datastore.AllocateSpace', 'Datastore.Audit'], true);
  else if (owner !== undefined && Number(owner) === vmid) return;
  else if (vtype === 'backup' && owner !== undefined) {
    access.check(`/storage/${storage}`, ['Datastore.AllocateSpace']);
    access.check(`/vms/${owner}`, ['VM.Backup']);
  } else if (owner !== undefined) {
    access.check(`/storage/${storage}`, ['Datastore.Audit']);
    access.check(`/vms/${owner}`, ['VM.Config.Disk']);
  } else throw new SimApiError(403, `missing privileges to access ${volid}`);
}

/**
 * check_ct_modify_config_perm: the privilege each changed config key needs on `/vms/<vmid>`
 * (CPU, memory, disks with space on their storage, network with the bridge, options), and the
 * keys only root@pam may change (feature flags other than nesting, device passthrough, hook
 * scripts, bind mounts).
 */
export function checkContainerConfig(access: Access, state: SimState, vmid: number, old: ConfigMap | undefined, changes: ConfigMap, deleted: readonly string[], unprivileged: boolean): void {
  if (access.actsAsRoot) return;
  const vm = `/vms/${vmid}`;
  const one = (key: string, removing: boolean): void => {
    if (key === 'cores' || key === 'cpuunits' || key === 'cpulimit') access.check(vm, ['VM.Config.CPU']);
    else if (key === 'rootfs' || /^mp\d+$/.test(key)) {
      access.check(vm, ['VM.Config.Disk']);
      if (removing) return;
      const value = changes[key]!;
      const volume = key === 'rootfs' ? value.split(',')[0]!.replace(/^volume=/, '') : (/(?:^|,)volume=([^,]+)/.exec(value)?.[1] ?? value.split(',')[0]!);
      if (volume.startsWith('/')) return access.rootOnly('mount point type bind is only allowed for root@pam');
      const fresh = NEW_DISK.exec(volume);
      if (fresh) access.check(`/storage/${fresh[1]}`, ['Datastore.AllocateSpace']);
      else checkVolumeAccess(access, state, vmid, volume, 'rootdir');
    } else if (key === 'memory' || key === 'swap') access.check(vm, ['VM.Config.Memory']);
    else if (/^net\d+$/.test(key)) {
      access.check(vm, ['VM.Config.Network']);
      if (old?.[key]) checkBridge(access, old[key]);
      if (!removing && changes[key]) checkBridge(access, changes[key]);
    } else if (/^dev\d+$/.test(key)) access.rootOnly('configuring device passthrough is only allowed for root@pam');
    else if (key === 'nameserver' || key === 'searchdomain' || key === 'hostname') access.check(vm, ['VM.Config.Network']);
    else if (key === 'features') {
      if (!unprivileged) access.rootOnly('changing feature flags for privileged container is only allowed for root@pam');
      const before = features(old?.features);
      const after = removing ? {} : features(changes.features);
      const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((name) => (before[name] ?? '') !== (after[name] ?? ''));
      if (changed.some((name) => name !== 'nesting')) access.rootOnly('changing feature flags (except nesting) is only allowed for root@pam');
      if (changed.includes('nesting')) access.check(vm, ['VM.Allocate']);
    } else if (key === 'hookscript') access.rootOnly('changing the hookscript is only allowed for root@pam');
    else if (key === 'tags') {
      access.check(vm, ['VM.Config.Options']);
      // assert_tag_permissions: without Sys.Modify on / only the datacenter's allowed tags; the simulator allows free tags (PVE's default).
    } else access.check(vm, ['VM.Config.Options']);
  };
  for (const key of Object.keys(changes)) one(key, false);
  for (const key of deleted) one(key, true);
}

/** create_vm's checks, before the worker: who may create or restore `vmid`, from which archive, onto which storages. */
export function checkCreateContainer(access: Access, state: SimState, params: RequestParameters, config: ConfigMap, exists: boolean): void {
  if (access.actsAsRoot) return;
  const vmid = Number(params.vmid);
  const restore = params.restore === '1';
  const unprivileged = params.unprivileged === undefined ? !restore : params.unprivileged === '1';
  if (!restore && !unprivileged) access.check('/', ['Sys.Modify']);
  if (params['ha-managed'] === '1') access.check('/', ['Sys.Console']);
  if (!access.has(`/vms/${vmid}`, ['VM.Allocate'])) {
    if (!(restore && params.force === '1' && exists && access.has(`/vms/${vmid}`, ['VM.Backup']))) throw new SimApiError(403, 'Permission check failed');
  }
  checkContainerConfig(access, state, vmid, undefined, config, [], unprivileged || restore);
  const ostemplate = String(params.ostemplate);
  checkVolumeAccess(access, state, vmid, ostemplate, restore ? 'backup' : 'vztmpl');
  if (config.rootfs === undefined) access.check(`/storage/${String(params.storage ?? 'local')}`, ['Datastore.AllocateSpace']);
  else if (restore && params.storage !== undefined) access.check(`/storage/${String(params.storage)}`, ['Datastore.AllocateSpace']);
}

/** resize_vm: VM.Config.Disk (the schema's check) and space on the volume's storage. */
export function checkResize(access: Access, volume: string): void {
  const storage = /^([^:]+):/.exec(volume.split(',')[0]!.replace(/^volume=/, ''))?.[1];
  if (storage) access.check(`/storage/${storage}`, ['Datastore.AllocateSpace']);
}

const ROOT_ONLY_BACKUP_OPTIONS = ['tmpdir', 'dumpdir', 'script', 'job-id'];

/** assert_param_permission_common of pve-manager's Backup API. */
function checkBackupOptions(access: Access, params: RequestParameters): void {
  for (const key of ROOT_ONLY_BACKUP_OPTIONS) {
    if (params[key] !== undefined) throw parameterError({ [key]: 'Only root may set this option.' });
  }
  if (['bwlimit', 'ionice', 'performance'].some((key) => params[key] !== undefined)) access.check('/', ['Sys.Modify']);
}

/** vzdump: VM.Backup on every guest, space on the backup storage, Datastore.Allocate for its own retention. */
export function checkVzdump(access: Access, params: RequestParameters, vmids: readonly string[], storage: string): void {
  if (access.actsAsRoot) return;
  checkBackupOptions(access, params);
  if (params['prune-backups'] !== undefined) access.check(`/storage/${storage}`, ['Datastore.Allocate']);
  access.check(`/storage/${storage}`, ['Datastore.AllocateSpace']);
  for (const vmid of vmids) access.check(`/vms/${vmid}`, ['VM.Backup']);
}

/** A backup job's create or update (Sys.Modify on / is the schema's): Datastore.Allocate on its storage, old and new. */
export function checkBackupJob(access: Access, params: RequestParameters, current?: ConfigMap): void {
  if (access.actsAsRoot) return;
  checkBackupOptions(access, params);
  const storage = typeof params.storage === 'string' ? params.storage : undefined;
  if (storage) access.check(`/storage/${storage}`, ['Datastore.Allocate']);
  else if (!current) access.check('/storage/local', ['Datastore.Allocate']);
  if (current?.dumpdir) access.rootOnly("only root@pam may edit jobs with a 'dumpdir' option.");
  if (current) access.check(`/storage/${current.storage ?? 'local'}`, ['Datastore.Allocate']);
}
