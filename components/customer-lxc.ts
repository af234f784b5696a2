/**
 * The customer LXC (docs/architecture.md#customer-node): one unprivileged Debian container per customer, Docker-ready,
 * created from the golden template (templates/lxc/golden.yml) and sized by the box spec.
 *
 * A replaced LXC is a customer's lost data, so this component guards against replacement
 * three ways (docs/components.md#customerlxc): the Pulumi resource is `protect`ed, the
 * Proxmox `protection` flag is set, and attributes the provider would turn into a replacement
 * without any value to the customer are in `ignoreChanges`.
 */
import * as pulumi from '@pulumi/pulumi';
import * as proxmoxve from '@muhlba91/pulumi-proxmoxve';
import { checkInputs, gated, plainFor, type WithInputs } from './inputs.js';
import {
  bulkMountPath, CUSTOMER_LXC_IGNORED_CHANGES, CUSTOMER_LXC_TYPE, customerLxcRules, staticIpv4Address, type CustomerLxcArgs,
} from './rules/customer-lxc.js';
export * from './rules/customer-lxc.js';

/**
 * {@link CustomerLxcArgs} where the fields another resource may produce accept outputs: the node,
 * the hostname, the OS template volume (a downloaded file's id), the root storage and the
 * description. The rules check them once they are known (components/inputs.ts).
 */
export type CustomerLxcInputs = WithInputs<CustomerLxcArgs, 'node' | 'hostname' | 'osTemplateFileId' | 'rootStorage' | 'description'>;

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

  constructor(name: string, args: CustomerLxcInputs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before registering anything: bad args must not leave a half-built component.
    // Args holding outputs are checked once known, and the container waits for that check.
    const gate = checkInputs(CUSTOMER_LXC_TYPE, name, customerLxcRules, args);
    const importId = args.adoptExisting
      ? `${plainFor(CUSTOMER_LXC_TYPE, name, 'node', 'adoptExisting imports the container by `<node>/<vmId>`, a resource option', args.node)}/${args.vmId}`
      : undefined;
    super(CUSTOMER_LXC_TYPE, name, {}, opts);

    const guarded = args.allowDestroy !== true;
    const network = args.network ?? {};
    const ipv4 = network.ipv4 ?? 'dhcp';

    this.container = new proxmoxve.ContainerLegacy(
      `${name}-container`,
      {
        nodeName: args.node,
        vmId: args.vmId,
        // The gate rides on the description, which Proxmox updates in place.
        description: gated(gate, args.description ?? 'Felhom customer guest (managed by the agent)'),
        tags: [...(args.tags ?? ['felhom'])],
        unprivileged: args.unprivileged ?? true,
        features: {
          nesting: args.features?.nesting ?? true,
          keyctl: args.features?.keyctl ?? false,
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
          // only when its backup flag is off, and bulk data has its own policy (docs/architecture.md#backup-scope).
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
        ...(importId !== undefined ? { import: importId } : {}),
      },
    );

    this.vmId = this.container.vmId;
    this.hostname = pulumi.output(args.hostname);
    this.ipv4 = pulumi.output(staticIpv4Address(ipv4));
    this.containerId = this.container.id;
    this.registerOutputs({ vmId: this.vmId, hostname: this.hostname, ipv4: this.ipv4, containerId: this.containerId });
  }
}
