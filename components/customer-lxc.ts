/**
 * The customer LXC (seed §2): one unprivileged Debian container per customer, Docker-ready,
 * created from the golden template (templates/lxc/golden.yml) and sized by the box spec.
 *
 * A replaced LXC is a customer's lost data, so this component guards against replacement
 * three ways (docs/components.md#customerlxc): the Pulumi resource is `protect`ed, the
 * Proxmox `protection` flag is set, and attributes the provider would turn into a replacement
 * without any value to the customer are in `ignoreChanges`.
 */
import * as pulumi from '@pulumi/pulumi';
import * as proxmoxve from '@muhlba91/pulumi-proxmoxve';
import {
  assertValidArgs,
  duplicates,
  integerBetween,
  isAbsolutePath,
  isHostname,
  isIpv4,
  isIpv4Cidr,
  isProxmoxId,
  nonEmpty,
  shown,
  type Rule,
} from './validation.js';

export const CUSTOMER_LXC_TYPE = 'felhom:host:CustomerLxc';

/** Where a bulk storage's mount point appears inside the guest by default. */
export function bulkMountPath(storage: string): string {
  return `/mnt/bulk/${storage}`;
}

/** Container features. */
export interface CustomerLxcFeatures {
  /** Nested namespaces, needed by Docker. @default - true */
  readonly nesting?: boolean;
  /** The keyctl() system call, needed by runc in an unprivileged container. @default - true */
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
  /** Include the volume in the guest's vzdump backups. @default - false: bulk has its own policy (seed §8) */
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
   * (seed §11): it turns off `protect` and the Proxmox protection flag.
   * @default - false: the container is protected
   */
  readonly allowDestroy?: boolean;
  /**
   * The container already exists on the node (restored from a backup in restore mode, seed §9):
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
  { field: 'cores', check: (a) => (a.cores === undefined ? undefined : integerBetween(a.cores, 1, 128, 'cores')) },
  { field: 'memoryMiB', check: (a) => (a.memoryMiB === undefined ? undefined : integerBetween(a.memoryMiB, 512, 1_048_576, 'MiB')) },
  { field: 'swapMiB', check: (a) => (a.swapMiB === undefined ? undefined : integerBetween(a.swapMiB, 0, 1_048_576, 'MiB')) },
  {
    field: 'rootStorage',
    check: (a) => (a.rootStorage === undefined || isProxmoxId(a.rootStorage) ? undefined : `expected a Proxmox storage id, got ${shown(a.rootStorage)}`),
  },
  // 8 GiB holds Debian, Docker and a few images; less fills up on the first app.
  { field: 'diskGiB', check: (a) => (a.diskGiB === undefined ? undefined : integerBetween(a.diskGiB, 8, 65_536, 'GiB')) },
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
    check: (a) => (a.features?.keyctl === false ? 'expected keyctl on: runc in an unprivileged guest needs it, got false' : undefined),
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
      return isIpv4(gateway) ? undefined : `expected the IPv4 gateway of the static address ${ipv4}, got ${shown(gateway)}`;
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
  if (mountPoints.length > 8) messages.push(`expected at most 8 mount points, got ${mountPoints.length}`);
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

/**
 * The customer's container. Children: `<name>-container` (proxmoxve ContainerLegacy, the
 * provider's current LXC resource).
 */
export class CustomerLxc extends pulumi.ComponentResource {
  /** The Proxmox VM id. */
  readonly vmId: pulumi.Output<number>;
  /** The guest's hostname. */
  readonly hostname: pulumi.Output<string>;
  /** The static IPv4 address without prefix length (`192.168.1.50`); undefined with DHCP. */
  readonly ipv4: pulumi.Output<string | undefined>;
  /** The provider's id of the container (`<vmId>`). */
  readonly containerId: pulumi.Output<string>;
  /** The container resource, for `dependsOn` from other components. */
  readonly container: proxmoxve.ContainerLegacy;

  constructor(name: string, args: CustomerLxcArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before registering anything: bad args must not leave a half-built component.
    assertValidArgs(CUSTOMER_LXC_TYPE, name, customerLxcRules, args);
    super(CUSTOMER_LXC_TYPE, name, {}, opts);

    const guarded = args.allowDestroy !== true;
    const network = args.network ?? {};
    const ipv4 = network.ipv4 ?? 'dhcp';

    this.container = new proxmoxve.ContainerLegacy(
      `${name}-container`,
      {
        nodeName: args.node,
        vmId: args.vmId,
        description: args.description ?? 'Felhom customer guest (managed by the agent)',
        tags: [...(args.tags ?? ['felhom'])],
        unprivileged: args.unprivileged ?? true,
        features: {
          nesting: args.features?.nesting ?? true,
          keyctl: args.features?.keyctl ?? true,
          fuse: args.features?.fuse ?? false,
        },
        operatingSystem: { templateFileId: args.osTemplateFileId, type: args.osType ?? 'debian' },
        cpu: { cores: args.cores ?? 2 },
        memory: { dedicated: args.memoryMiB ?? 4096, swap: args.swapMiB ?? 512 },
        disk: { datastoreId: args.rootStorage ?? 'local-lvm', size: args.diskGiB ?? 32 },
        mountPoints: (args.mountPoints ?? []).map((mp) => ({
          volume: mp.storage,
          size: `${mp.sizeGiB}G`,
          path: mp.path ?? bulkMountPath(mp.storage),
          // Explicit even though false is Proxmox's default: vzdump skips a volume mount point
          // only when its backup flag is off, and bulk data has its own policy (seed §8).
          backup: mp.backup ?? false,
        })),
        networkInterfaces: [
          {
            name: 'eth0',
            bridge: network.bridge ?? 'vmbr0',
            ...(network.vlan !== undefined ? { vlanId: network.vlan } : {}),
          },
        ],
        initialization: {
          hostname: args.hostname,
          ipConfigs: [{ ipv4: { address: ipv4, ...(network.gateway !== undefined ? { gateway: network.gateway } : {}) } }],
        },
        startOnBoot: args.startOnBoot ?? true,
        started: true,
        // Proxmox's own guard: refuses to destroy the guest or remove its disks, even by hand.
        protection: guarded,
      },
      {
        parent: this,
        protect: guarded,
        ignoreChanges: [...CUSTOMER_LXC_IGNORED_CHANGES],
        // If a replacement ever gets past `protect`, never destroy the old guest first.
        deleteBeforeReplace: false,
        // The provider's import id is `<node>/<vmId>`; once the guest is in the stack's state the
        // option changes nothing, and later deploys leave it out.
        ...(args.adoptExisting ? { import: `${args.node}/${args.vmId}` } : {}),
      },
    );

    this.vmId = this.container.vmId;
    this.hostname = pulumi.output(args.hostname);
    this.ipv4 = pulumi.output(staticIpv4Address(ipv4));
    this.containerId = this.container.id;
    this.registerOutputs({ vmId: this.vmId, hostname: this.hostname, ipv4: this.ipv4, containerId: this.containerId });
  }
}
