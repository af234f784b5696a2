/**
 * What the simulated Proxmox host holds: its node, storage definitions, the media behind them
 * (a USB disk, a NAS export, a PBS datastore: they outlive the host, so a bare host can restore
 * from them), containers with snapshots, backup jobs, tasks, its users, groups, roles, ACLs and
 * API tokens (PVE's user.cfg), and the faults a test has switched on. Kept in memory and, with a state file, written after every change
 * (atomic rename), so a restarted simulator and `refresh` see what `up` did.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type ConfigMap = Record<string, string>;

export interface SimVolume {
  readonly volid: string;
  readonly content: string;
  readonly format: string;
  readonly size: number;
  readonly ctime: number;
  readonly vmid?: number;
  readonly notes?: string;
  /** For a vzdump archive: the container configuration it holds. */
  readonly guestConfig?: ConfigMap;
}

/** A disk, export or datastore a storage definition points at. */
export interface SimMedium {
  /** Plugged in / reachable. A storage on a detached medium is inactive. */
  attached: boolean;
  /** What the medium identifies as: a filesystem UUID, `server:/export`, a PBS fingerprint. */
  identity?: string;
  readonly volumes: SimVolume[];
  /** Bytes. */
  total: number;
}

export interface SimSnapshot {
  readonly config: ConfigMap;
  readonly snaptime: number;
  readonly description: string;
  readonly parent?: string;
}

export interface SimContainer {
  readonly vmid: number;
  readonly node: string;
  config: ConfigMap;
  status: 'running' | 'stopped';
  snapshots: Record<string, SimSnapshot>;
  /** The snapshot the current state derives from. */
  parent?: string;
  /** When it last started, epoch seconds. */
  startedAt?: number;
  /** The task whose lock `config.lock` is; the lock goes when it ends. */
  lockTask?: string;
  /** Whether the guest answers inside (`pct exec`); a test turns it off to fail a health check. */
  healthy: boolean;
}

export interface SimTask {
  readonly upid: string;
  readonly node: string;
  readonly type: string;
  readonly id: string;
  readonly user: string;
  readonly pid: number;
  readonly pstart: number;
  readonly starttime: number;
  /** Epoch milliseconds when it stops. */
  readonly endsAt: number;
  /** `OK` or the error it ends with. */
  readonly exitstatus: string;
  readonly log: readonly string[];
  /** The guest it holds a lock on until it ends. */
  readonly lockVmid?: number;
}

export interface SimToken {
  readonly userid: string;
  readonly tokenid: string;
  /** The secret (a UUID); never returned by the API after creation. */
  readonly value: string;
  readonly privsep: 0 | 1;
  readonly expire: number;
  readonly comment?: string;
}

/** A user of user.cfg. `root@pam` always exists and can do anything. */
export interface SimUser {
  enable: 0 | 1;
  /** Epoch seconds; 0 never. */
  expire: number;
  comment?: string;
  groups: string[];
}

/** One ACL entry: `roleid` for `ugid` (a user, group or token id) on `path`. */
export interface SimAcl {
  readonly path: string;
  readonly type: 'user' | 'group' | 'token';
  readonly ugid: string;
  readonly roleid: string;
  propagate: 0 | 1;
}

/** A fault a test switched on. `count` replies are affected, then the fault clears; unset is for good. */
export interface TaskFault {
  /** Task type (`vzcreate`, `vzstart`, `vzdump`, `vzrestore`, `vzrollback`, …). */
  readonly type: string;
  /** Only the task for this guest or storage id. @default - any */
  readonly id?: string;
  readonly message?: string;
  count?: number;
}

export interface ReplyFault {
  readonly method?: string;
  /** A path prefix below /api2/json, e.g. `/nodes/pve/lxc`. */
  readonly path: string;
  /** HTTP status, e.g. 500 or 503. */
  readonly status: number;
  readonly message?: string;
  count?: number;
}

export interface NodeFault {
  readonly node: string;
  /** Milliseconds before the reply (then a 595, pveproxy's code for an unreachable node). */
  readonly delayMs: number;
}

export interface SimFaults {
  tasks: TaskFault[];
  replies: ReplyFault[];
  nodes: NodeFault[];
}

export interface SimState {
  readonly version: { readonly version: string; readonly release: string; readonly repoid: string };
  readonly nodes: { readonly node: string; status: 'online' | 'offline' }[];
  storages: Record<string, ConfigMap>;
  media: Record<string, SimMedium>;
  containers: Record<string, SimContainer>;
  backupJobs: Record<string, ConfigMap>;
  tasks: Record<string, SimTask>;
  tokens: SimToken[];
  users: Record<string, SimUser>;
  groups: Record<string, { comment?: string }>;
  /** The roles made through the API, by id: their privileges (the built-in ones are not stored). */
  roles: Record<string, string[]>;
  acl: SimAcl[];
  faults: SimFaults;
  /** Task duration in milliseconds. */
  taskDelayMs: number;
  /** Counts PIDs for UPIDs. */
  nextPid: number;
}

export const GOLDEN_TEMPLATE_FILE = 'debian-13-standard_13.1-2_amd64.tar.zst';

export interface InitialStateOptions {
  readonly node?: string;
  /** The API token the host starts with, `USER@REALM!TOKENID=UUID`. @default - root@pam!felhom with a random UUID */
  readonly token?: string;
  readonly taskDelayMs?: number;
}

/** Splits `USER@REALM!TOKENID=UUID`; undefined when it is not in that form. */
export function parseTokenHeader(value: string): { userid: string; tokenid: string; secret: string } | undefined {
  const match = /^([^\s!@]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)[=:](\S+)$/.exec(value);
  return match ? { userid: match[1]!, tokenid: match[2]!, secret: match[3]! } : undefined;
}

/**
 * A freshly installed host: one node, `local` (dir, templates and backups) holding the golden
 * template, `local-lvm` (LVM-thin, guest disks), no guests, one API token.
 */
export function initialState(options: InitialStateOptions = {}): SimState {
  const node = options.node ?? 'pve';
  const token = parseTokenHeader(options.token ?? `root@pam!felhom=${randomUUID()}`);
  if (!token) throw new Error(`token: expected USER@REALM!TOKENID=UUID, got ${JSON.stringify(options.token)}`);
  const now = Math.floor(Date.now() / 1000);
  return {
    version: { version: '9.2.0', release: '9.2', repoid: 'simulated' },
    nodes: [{ node, status: 'online' }],
    storages: {
      local: { type: 'dir', storage: 'local', path: '/var/lib/vz', content: 'iso,vztmpl,backup' },
      'local-lvm': { type: 'lvmthin', storage: 'local-lvm', vgname: 'pve', thinpool: 'data', content: 'rootdir,images' },
    },
    media: {
      'dir:/var/lib/vz': {
        attached: true,
        total: 100 * 2 ** 30,
        volumes: [{ volid: `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`, content: 'vztmpl', format: 'tzst', size: 129_000_000, ctime: now }],
      },
      'lvmthin:pve/data': { attached: true, total: 400 * 2 ** 30, volumes: [] },
    },
    containers: {},
    backupJobs: {},
    tasks: {},
    tokens: [{ userid: token.userid, tokenid: token.tokenid, value: token.secret, privsep: 0, expire: 0, comment: 'felhom agent' }],
    ...accessDefaults([token.userid]),
    faults: { tasks: [], replies: [], nodes: [] },
    taskDelayMs: options.taskDelayMs ?? 300,
    nextPid: 1000,
  };
}

/** A fresh user.cfg: root@pam and the owners of the given tokens, no groups, roles or ACLs. */
function accessDefaults(tokenOwners: readonly string[]): Pick<SimState, 'users' | 'groups' | 'roles' | 'acl'> {
  const users: Record<string, SimUser> = { 'root@pam': { enable: 1, expire: 0, groups: [] } };
  for (const owner of tokenOwners) users[owner] ??= { enable: 1, expire: 0, groups: [] };
  return { users, groups: {}, roles: {}, acl: [] };
}

/**
 * Where a storage definition's data lives. Network media are keyed by what identifies them
 * (so two hosts attaching the same NAS export share it); a dir storage by its path.
 */
export function mediumKey(config: ConfigMap): string {
  switch (config.type) {
    case 'nfs':
      return `nfs:${config.server}:${config.export}`;
    case 'cifs':
      return `cifs://${config.server}/${config.share}`;
    case 'pbs':
      return `pbs:${config.server}/${config.datastore}${config.namespace ? `/${config.namespace}` : ''}`;
    case 'lvmthin':
      return `lvmthin:${config.vgname}/${config.thinpool}`;
    default:
      return `${config.type}:${config.path}`;
  }
}

/** The identity a newly seen medium has: what the storage definition names, or a fresh UUID for a disk. */
export function defaultIdentity(config: ConfigMap): string {
  switch (config.type) {
    case 'nfs':
      return `${config.server}:${config.export}`;
    case 'cifs':
      return `//${config.server}/${config.share}`;
    case 'pbs':
      return config.fingerprint ?? '';
    default:
      return randomUUID();
  }
}

/** The state in memory, saved to `file` (when given) after every change. */
export class StateStore {
  readonly file: string | undefined;
  state: SimState;
  #writing: Promise<void> = Promise.resolve();

  private constructor(state: SimState, file: string | undefined) {
    this.state = state;
    this.file = file;
  }

  /** Loads `file` when it exists, else starts from `initialState(options)` (and writes it). */
  static async open(file: string | undefined, options: InitialStateOptions = {}): Promise<StateStore> {
    if (file) {
      let text: string | undefined;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      if (text !== undefined) {
        let state: SimState;
        try {
          state = JSON.parse(text) as SimState;
        } catch (cause) {
          throw new Error(`${file}: not a simulator state file (${(cause as Error).message})`, { cause });
        }
        if (!state || typeof state !== 'object' || !Array.isArray(state.nodes) || typeof state.storages !== 'object') {
          throw new Error(`${file}: not a simulator state file (expected nodes and storages)`);
        }
        state.faults ??= { tasks: [], replies: [], nodes: [] };
        // A state file from before the simulator kept user.cfg: its token owners become users.
        if (!state.users) Object.assign(state, accessDefaults((state.tokens ?? []).map((token) => token.userid)));
        return new StateStore(state, file);
      }
    }
    const store = new StateStore(initialState(options), file);
    await store.save();
    return store;
  }

  /** Writes the state file (write to a temporary file, then rename), one write at a time. */
  save(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const text = JSON.stringify(this.state, null, 1);
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(file), { recursive: true });
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, text, { mode: 0o600 });
      await rename(temporary, file);
    });
    return this.#writing;
  }
}
