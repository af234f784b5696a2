/**
 * The Proxmox VE privileges the host tier uses, and where (docs/agent.md "The agent's Proxmox API
 * token"): the one table the agent's roles are built from (runner/enrollment/proxmox-token.ts)
 * and the table docs/agent.md shows (a test keeps the two equal).
 *
 * Each privilege is granted on the narrowest ACL path PVE checks it on for the host tier's calls,
 * read from PVE's own permission checks (the `permissions` of each method in PVE's API schema, and
 * the checks inside pve-container's create_vm / check_ct_modify_config_perm, pve-storage's
 * check_volume_access and pve-manager's VZDump and Backup API). PVE grants roles on paths, so
 * each path has its own role holding only that path's privileges: one role on all of them would
 * put, for instance, Sys.Modify on /nodes/<node> (the host's network, disks, packages).
 *
 * Not granted, because nothing the host tier calls needs them: VM.Snapshot.Rollback (PVE accepts
 * VM.Snapshot for a rollback), Datastore.Audit (Datastore.AllocateSpace satisfies every read the
 * agent makes), Datastore.AllocateTemplate (the golden template is on the host before the agent
 * runs), Sys.Audit on /nodes (the agent reads only its own tasks), VM.Console, VM.Migrate, VM.Clone,
 * Sys.PowerMgmt, Sys.Console, Permissions.Modify, Realm.*, Pool.*, SDN.Allocate, Mapping.*.
 */

/** One privilege on one path, and what the host tier does with it. */
export interface ProxmoxPrivilegeUse {
  readonly privilege: string;
  /** The calls that need it, in a person's words with the API paths. */
  readonly usedBy: string;
}

/** A role the agent holds on one ACL path. */
export interface ProxmoxGrant {
  /** The ACL path. */
  readonly path: string;
  /** Whether the role reaches below the path (`/vms` → every `/vms/<vmid>`). */
  readonly propagate: boolean;
  /** The role's id on the host (it holds exactly `privileges`). */
  readonly role: string;
  readonly privileges: readonly ProxmoxPrivilegeUse[];
  /** Why this path, and why it is no narrower. */
  readonly why: string;
}

/** The PVE user the agent's token belongs to (realm `pve`: no login on the host's shell). */
export const PROXMOX_AGENT_USER = 'felhom-agent@pve';
/** The group the agent user is in: its User.Modify reaches only this group's members (itself). */
export const PROXMOX_AGENT_GROUP = 'felhom-agent';
/** The token's id: `felhom-agent@pve!agent`. */
export const PROXMOX_AGENT_TOKEN_ID = 'agent';
/** The token's full id. */
export const PROXMOX_AGENT_TOKEN = `${PROXMOX_AGENT_USER}!${PROXMOX_AGENT_TOKEN_ID}`;

/** The host tier's privileges by ACL path. The roles are built from this table and nothing else. */
export const PROXMOX_AGENT_GRANTS: readonly ProxmoxGrant[] = [
  {
    path: '/vms',
    propagate: true,
    role: 'FelhomAgentGuests',
    why: 'every customer LXC the host tier makes (the VM ids come from the spec); PVE pools would narrow it to the agent\'s guests but are not used',
    privileges: [
      { privilege: 'VM.Allocate', usedBy: 'create a customer LXC and restore one onto a bare host (`POST /nodes/{node}/lxc`), remove one whose spec allows it (`DELETE /nodes/{node}/lxc/{vmid}`), turn `nesting` on' },
      { privilege: 'VM.Audit', usedBy: 'read a guest\'s config, status, interfaces and snapshots (`GET …/lxc/{vmid}/config`, `…/status/current`, `…/interfaces`, `…/snapshot`): the provider\'s refresh, the health check, the local API\'s status' },
      { privilege: 'VM.Backup', usedBy: 'back up now and the decommission\'s final backup (`POST /nodes/{node}/vzdump`)' },
      { privilege: 'VM.Config.CPU', usedBy: 'a guest\'s `cores` (create, update)' },
      { privilege: 'VM.Config.Disk', usedBy: 'root filesystem and bulk mount points (`rootfs`, `mpN`), growing the disk (`PUT …/resize`)' },
      { privilege: 'VM.Config.Memory', usedBy: '`memory` and `swap`, growing memory through the local API (`PUT …/config`)' },
      { privilege: 'VM.Config.Network', usedBy: '`net0`, `hostname`, `nameserver`' },
      { privilege: 'VM.Config.Options', usedBy: '`description`, `tags`, `onboot`, `protection`, `ostype`' },
      { privilege: 'VM.PowerMgmt', usedBy: 'start a guest after create or restore, stop and shut down (`POST …/status/start|stop|shutdown`)' },
      { privilege: 'VM.Snapshot', usedBy: 'snapshot before a deploy, roll back to it, delete it (`POST …/snapshot`, `POST …/snapshot/{snapname}/rollback`, `DELETE …/snapshot/{snapname}`)' },
    ],
  },
  {
    path: '/storage',
    propagate: true,
    role: 'FelhomAgentStorage',
    why: 'the storage manifest\'s targets are created by the host tier, so their ids are not known in advance; creating one needs the privilege on `/storage` itself',
    privileges: [
      { privilege: 'Datastore.Allocate', usedBy: 'define, change and remove storages (`POST /storage`, `PUT/DELETE /storage/{storage}`), read a definition in the storage check (`GET /storage/{storage}`), backup jobs naming a storage (`POST/PUT /cluster/backup`)' },
      { privilege: 'Datastore.AllocateSpace', usedBy: 'allocate guest volumes, grow them, write backups and restore from them, use the golden template, read a storage\'s status and content (`GET /nodes/{node}/storage/{storage}/status|content`)' },
    ],
  },
  {
    path: '/sdn/zones/localnetwork',
    propagate: true,
    role: 'FelhomAgentNetwork',
    why: 'a guest\'s bridge (`vmbr0` by default, the spec may name another): PVE checks SDN.Use on `/sdn/zones/localnetwork/<bridge>`',
    privileges: [
      { privilege: 'SDN.Use', usedBy: 'attach a guest\'s `net0` to its bridge (create, update)' },
    ],
  },
  {
    path: '/',
    propagate: false,
    role: 'FelhomAgentCluster',
    why: 'PVE checks backup jobs on `/` itself; without propagation the role reaches nothing below it',
    privileges: [
      { privilege: 'Sys.Audit', usedBy: 'read backup jobs (`GET /cluster/backup`, `GET /cluster/backup/{id}`): the provider\'s refresh, the storage check' },
      { privilege: 'Sys.Modify', usedBy: 'create, change and remove backup jobs (`POST /cluster/backup`, `PUT/DELETE /cluster/backup/{id}`), and hold a job while its target is unhealthy' },
    ],
  },
  {
    path: `/access/groups/${PROXMOX_AGENT_GROUP}`,
    propagate: false,
    role: 'FelhomAgentSelf',
    why: `PVE lets a token manage tokens only with User.Modify over the owner's group; the group holds only ${PROXMOX_AGENT_USER}`,
    privileges: [
      { privilege: 'User.Modify', usedBy: 'revoke its own token at decommission (`DELETE /access/users/{userid}/token/{tokenid}`)' },
    ],
  },
];

/** Every privilege the agent holds, sorted. */
export function agentPrivileges(): string[] {
  return [...new Set(PROXMOX_AGENT_GRANTS.flatMap((grant) => grant.privileges.map((use) => use.privilege)))].sort();
}

/** The privileges of one grant's role, sorted (as PVE lists them). */
export function rolePrivileges(grant: ProxmoxGrant): string[] {
  return grant.privileges.map((use) => use.privilege).sort();
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The table docs/agent.md shows between its `proxmox-privileges` markers. */
export function privilegeTable(): string {
  const rows = ['| ACL path | role | privilege | used by |', '| --- | --- | --- | --- |'];
  for (const grant of PROXMOX_AGENT_GRANTS) {
    for (const use of grant.privileges) {
      rows.push(`| \`${grant.path}\`${grant.propagate ? '' : ' (not propagated)'} | \`${grant.role}\` | ${use.privilege} | ${cell(use.usedBy)} |`);
    }
  }
  return rows.join('\n');
}
