/**
 * The customer LXC's argument types and rules (components/customer-lxc.ts): pure functions that need no Pulumi
 * runtime, so the box spec validator checks a spec with the same rules the component applies.
 */
import {
  duplicates,
  integerBetween,
  isAbsolutePath,
  isHostname,
  isIpv4,
  gatewayProblem,
  isIpv4Cidr,
  isProxmoxId,
  nonEmpty,
  shown,
  type Rule,
} from '../validation.js';

export const CUSTOMER_LXC_TYPE = 'felhom:host:CustomerLxc';

/** Where a bulk storage's mount point appears inside the guest by default. */
export function bulkMountPath(storage: string): string {
  return `/mnt/bulk/${storage}`;
}

/** Container features. */
export interface CustomerLxcFeatures {
  /** Nested namespaces, needed by Docker. @default - true */
  readonly nesting?: boolean;
  /**
   * The keyctl() system call. Must stay off: PVE lets only root@pam (a password login, never an API
   * token such as the agent's) set a feature flag other than nesting, and runc needs no keyctl in an
   * unprivileged LXC (LXC's seccomp answers ENOSYS, which runc takes as "no session keyring").
   * @default - false
   */
  readonly keyctl?: boolean;
  /** FUSE mounts. @default - false: apps get storage as mount points */
  readonly fuse?: boolean;
}

/** One volume mount point on a bulk storage. */
export interface CustomerLxcMountPoint {
  /** The Proxmox storage id the volume is allocated on. */
  readonly storage: string;
  /** Volume size in GiB. */
  readonly sizeGiB: number;
  /** Path inside the guest. @default - /mnt/bulk/<storage> */
  readonly path?: string;
  /** Include the volume in the guest's vzdump backups. @default - false: bulk has its own policy (docs/architecture.md#backup-scope) */
  readonly backup?: boolean;
}

/** The guest's one network interface (`eth0`). */
export interface CustomerLxcNetwork {
  /** Host bridge. @default - vmbr0 */
  readonly bridge?: string;
  /** `dhcp` or an IPv4 address in CIDR form (`192.168.1.50/24`). @default - dhcp */
  readonly ipv4?: string;
  /** IPv4 gateway; required with a static address, refused with DHCP. @default - none (DHCP) */
  readonly gateway?: string;
  /** VLAN tag. @default - untagged */
  readonly vlan?: number;
}

export interface CustomerLxcArgs {
  /** The Proxmox node name (`pvesh get /nodes`). */
  readonly node: string;
  /** The Proxmox VM id, 100 to 999999999, unique on the host. */
  readonly vmId: number;
  /** The guest's hostname (a DNS label or name). */
  readonly hostname: string;
  /** The OS template volume, for example `local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst`. */
  readonly osTemplateFileId: string;
  /** Proxmox `ostype`, which picks Proxmox's setup scripts. @default - debian */
  readonly osType?: string;
  /** CPU cores. @default - 2 */
  readonly cores?: number;
  /** Memory in MiB. @default - 4096 */
  readonly memoryMiB?: number;
  /** Swap in MiB. @default - 512 */
  readonly swapMiB?: number;
  /** The fast storage holding the root filesystem (hot data). @default - local-lvm */
  readonly rootStorage?: string;
  /** Root filesystem size in GiB. @default - 32 */
  readonly diskGiB?: number;
  /** Container features. @default - nesting and keyctl on (Docker-ready), fuse off */
  readonly features?: CustomerLxcFeatures;
  /** Run unprivileged (guest root is an unprivileged uid on the host). @default - true */
  readonly unprivileged?: boolean;
  /** One mount point per bulk storage. @default - none */
  readonly mountPoints?: readonly CustomerLxcMountPoint[];
  /** The network interface. @default - DHCP on vmbr0, untagged */
  readonly network?: CustomerLxcNetwork;
  /** Start the guest when the host boots. @default - true */
  readonly startOnBoot?: boolean;
  /** Proxmox tags (lower case). @default - felhom */
  readonly tags?: readonly string[];
  /** The guest's description in the Proxmox UI. @default - Felhom customer guest (managed by the agent) */
  readonly description?: string;
  /**
   * Allow Pulumi and Proxmox to destroy or replace the container. Only for decommissioning
   * (docs/architecture.md#offboarding): it turns off `protect` and the Proxmox protection flag.
   * @default - false: the container is protected
   */
  readonly allowDestroy?: boolean;
  /**
   * The container already exists on the node (restored from a backup in restore mode, docs/architecture.md#restore-mode):
   * adopt it into the stack with the `import` option (`<node>/<vmId>`) instead of creating it.
   * @default - false: create the container
   */
  readonly adoptExisting?: boolean;
}

/**
 * Container attributes the provider would turn into a replacement (ForceNew) and that carry
 * no value to the customer once the guest exists. Paths are the Pulumi input names.
 */
export const CUSTOMER_LXC_IGNORED_CHANGES: readonly string[] = [
  // The template only matters at creation; a newer golden template must not recreate old guests.
  'operatingSystem',
  // Proxmox reports the allocated volume (`local-lvm:vm-120-disk-1`) where we sent a storage id.
  'mountPoints[*].volume',
  // A mount point size change is ForceNew in the provider (bpg/terraform-provider-proxmox#2995):
  // the agent grows volumes in place with `pct resize` instead (docs/components.md#customerlxc).
  'mountPoints[*].size',
  // Root credentials are never set by Felhom; keys added by the agent must not trigger a rebuild.
  'initialization.userAccount',
];

/**
 * The sizes a customer LXC may have: the box spec's field bounds are these same numbers
 * (stacks/spec/schema.ts), so a spec `validate` accepts is one the component accepts.
 * 8 GiB of disk holds Debian, Docker and a few images; less fills up on the first app.
 */
export const CUSTOMER_LXC_LIMITS = {
  cores: { min: 1, max: 128 },
  memoryMiB: { min: 512, max: 1_048_576 },
  swapMiB: { min: 0, max: 1_048_576 },
  diskGiB: { min: 8, max: 65_536 },
  mountPoints: 8,
} as const;

const TAG = /^[a-z0-9_][a-z0-9_\-+.]*$/;

/** The argument rules of {@link CustomerLxc}, checked before any resource is created. */
export const customerLxcRules: readonly Rule<CustomerLxcArgs>[] = [
  { field: 'node', check: (a) => nonEmpty(a.node, 'a Proxmox node name') },
  { field: 'vmId', check: (a) => integerBetween(a.vmId, 100, 999_999_999) },
  {
    field: 'hostname',
    check: (a) => (isHostname(a.hostname) ? undefined : `expected a lower-case DNS hostname such as "cust-0001", got ${shown(a.hostname)}`),
  },
  {
    field: 'osTemplateFileId',
    check: (a) =>
      typeof a.osTemplateFileId === 'string' && /^[a-z][a-z0-9\-_.]*:vztmpl\/[^/\s]+$/i.test(a.osTemplateFileId)
        ? undefined
        : `expected a container template volume "<storage>:vztmpl/<file>", got ${shown(a.osTemplateFileId)}`,
  },
  { field: 'cores', check: (a) => (a.cores === undefined ? undefined : integerBetween(a.cores, CUSTOMER_LXC_LIMITS.cores.min, CUSTOMER_LXC_LIMITS.cores.max, 'cores')) },
  { field: 'memoryMiB', check: (a) => (a.memoryMiB === undefined ? undefined : integerBetween(a.memoryMiB, CUSTOMER_LXC_LIMITS.memoryMiB.min, CUSTOMER_LXC_LIMITS.memoryMiB.max, 'MiB')) },
  { field: 'swapMiB', check: (a) => (a.swapMiB === undefined ? undefined : integerBetween(a.swapMiB, CUSTOMER_LXC_LIMITS.swapMiB.min, CUSTOMER_LXC_LIMITS.swapMiB.max, 'MiB')) },
  {
    field: 'rootStorage',
    check: (a) => (a.rootStorage === undefined || isProxmoxId(a.rootStorage) ? undefined : `expected a Proxmox storage id, got ${shown(a.rootStorage)}`),
  },
  // 8 GiB holds Debian, Docker and a few images; less fills up on the first app.
  { field: 'diskGiB', check: (a) => (a.diskGiB === undefined ? undefined : integerBetween(a.diskGiB, CUSTOMER_LXC_LIMITS.diskGiB.min, CUSTOMER_LXC_LIMITS.diskGiB.max, 'GiB')) },
  {
    field: 'unprivileged',
    check: (a) =>
      a.unprivileged === false
        ? 'expected an unprivileged container: a privileged one lets an escaped app run as root on the Proxmox host, got false'
        : undefined,
  },
  {
    field: 'features.nesting',
    check: (a) => (a.features?.nesting === false ? 'expected nesting on: Docker inside the guest needs it, got false' : undefined),
  },
  {
    field: 'features.keyctl',
    check: (a) => (a.features?.keyctl === true ? "expected keyctl off: PVE lets only root@pam set it, never an API token such as the agent's, and runc runs without it; got true" : undefined),
  },
  { field: 'mountPoints', check: (a) => mountPointProblems(a.mountPoints ?? []) },
  {
    field: 'network.ipv4',
    check: (a) => {
      const ipv4 = a.network?.ipv4;
      return ipv4 === undefined || ipv4 === 'dhcp' || isIpv4Cidr(ipv4)
        ? undefined
        : `expected "dhcp" or an IPv4 address in CIDR form such as "192.168.1.50/24", got ${shown(ipv4)}`;
    },
  },
  {
    field: 'network.gateway',
    check: (a) => {
      const ipv4 = a.network?.ipv4 ?? 'dhcp';
      const gateway = a.network?.gateway;
      if (ipv4 === 'dhcp') return gateway === undefined ? undefined : `expected no gateway with DHCP (the DHCP server sends one), got ${shown(gateway)}`;
      if (!isIpv4(gateway)) return `expected the IPv4 gateway of the static address ${ipv4}, got ${shown(gateway)}`;
      return isIpv4Cidr(ipv4) ? gatewayProblem(ipv4, gateway) : undefined;
    },
  },
  {
    field: 'network.bridge',
    check: (a) => (a.network?.bridge === undefined || /^[a-z][a-z0-9_.-]{0,14}$/i.test(a.network.bridge) ? undefined : `expected a Linux bridge name such as "vmbr0", got ${shown(a.network.bridge)}`),
  },
  { field: 'network.vlan', check: (a) => (a.network?.vlan === undefined ? undefined : integerBetween(a.network.vlan, 1, 4094)) },
  {
    field: 'tags',
    check: (a) => {
      const bad = (a.tags ?? []).filter((tag) => !TAG.test(tag));
      // Proxmox lower-cases tags, so an upper-case tag would show a diff on every run.
      return bad.length === 0 ? undefined : `expected lower-case tags of letters, digits, "_", "-", "+", ".", got ${shown(bad)}`;
    },
  },
];

function mountPointProblems(mountPoints: readonly CustomerLxcMountPoint[]): string | undefined {
  const messages: string[] = [];
  // Proxmox allows mp0..mp255; the provider schema caps the list lower, so stay well inside.
  if (mountPoints.length > CUSTOMER_LXC_LIMITS.mountPoints) messages.push(`expected at most ${CUSTOMER_LXC_LIMITS.mountPoints} mount points, got ${mountPoints.length}`);
  mountPoints.forEach((mp, index) => {
    if (!isProxmoxId(mp.storage)) messages.push(`[${index}].storage: expected a Proxmox storage id, got ${shown(mp.storage)}`);
    const size = integerBetween(mp.sizeGiB, 1, 1_048_576, 'GiB');
    if (size) messages.push(`[${index}].sizeGiB: ${size}`);
    if (mp.path !== undefined && (!isAbsolutePath(mp.path) || mp.path === '/')) {
      messages.push(`[${index}].path: expected an absolute path inside the guest other than "/", got ${shown(mp.path)}`);
    }
  });
  const paths = duplicates(mountPoints.map((mp) => mp.path ?? bulkMountPath(mp.storage)));
  if (paths.length > 0) messages.push(`expected one mount point per path, got ${shown(paths)} more than once`);
  return messages.length > 0 ? messages.join('; ') : undefined;
}

/** Strips the prefix length: `192.168.1.50/24` → `192.168.1.50`; DHCP → undefined. */
export function staticIpv4Address(ipv4: string | undefined): string | undefined {
  if (ipv4 === undefined || ipv4 === 'dhcp') return undefined;
  return ipv4.split('/')[0];
}
