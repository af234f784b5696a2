/**
 * The box spec: the declarative part of the hub's customer record (docs/architecture.md#hub-record, #box-spec).
 * One document per customer box; the three tier stacks are built from it. Field reference:
 * docs/box-spec.md. JSON Schema for editors: stacks/spec/box-spec.schema.json.
 *
 * The spec carries no plaintext secret: every credential is a {@link SecretRef}.
 */

export const API_VERSION = 'felhom.dev/v1alpha1';
export const KIND = 'Box';

export type Tier = 'edge' | 'host' | 'guest';
export const TIERS: readonly Tier[] = ['edge', 'host', 'guest'];

/** The stack name of one tier of a box: `<box>.<tier>`. */
export function stackName(box: string, tier: Tier): string {
  return `${box}.${tier}`;
}

/**
 * A credential that never appears in clear in the spec.
 * - `encrypted`: an armoured OpenPGP message encrypted to the box's agent key
 *   (`felhom secrets encrypt --to agent.pub.asc`); the agent decrypts it at apply time.
 * - `ref`: the name of a secret the agent already holds in its local key store.
 */
export type SecretRef = { readonly encrypted: string } | { readonly ref: string };

export interface BoxSpec {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: typeof KIND;
  readonly metadata: BoxMetadata;
  readonly spec: BoxBody;
}

export interface BoxMetadata {
  /** The box id: lower-case letters, digits and dashes; names the stacks `<box>.<tier>`. */
  readonly box: string;
  /** The customer this box belongs to (the hub's customer id). */
  readonly customer: string;
  /** Free-form labels copied into Proxmox tags and reports. @default - none */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface BoxBody {
  /** The customer's domain; every app hostname lies inside it. */
  readonly domain: string;
  /** `production` boxes get mandatory supply-chain rules; `lab` boxes advisory ones. @default - production */
  readonly environment?: 'production' | 'lab';
  readonly host: HostSpec;
  /** The customer guests (LXCs). One is the home default; several is the company case. */
  readonly guests: readonly GuestSpec[];
  /** The storage manifest (docs/architecture.md#storage-manifest): every storage the agent creates and watches. @default - none */
  readonly storage?: readonly StorageSpec[];
  readonly backup: BackupSpec;
  /** The app inventory: one entry per deployed catalog app. @default - none */
  readonly apps?: readonly AppSpec[];
  readonly edge: EdgeSpec;
  /** Per-box policy settings, only ever changed through the signed spec. @default - every rule at its own level */
  readonly policy?: PolicySettings;
}

export interface HostSpec {
  /** The Proxmox node name (`pvesh get /nodes`). */
  readonly node: string;
  /** The Proxmox API endpoint the agent uses. @default - https://127.0.0.1:8006/ (the agent runs on the host) */
  readonly endpoint?: string;
  /** The host's own fast storage for guest root filesystems (LVM-thin). @default - local-lvm */
  readonly rootStorage?: string;
  /** The host storage holding container templates. @default - local */
  readonly templateStorage?: string;
  /** Rough random-IOPS of the root storage, recorded as its class. @default - 10000 */
  readonly rootStorageIops?: number;
}

export interface GuestSpec {
  /** Guest name, also its hostname inside the box. */
  readonly name: string;
  /** The Proxmox VM id; unique on the host. */
  readonly vmId: number;
  /** CPU cores. @default - 2 */
  readonly cores?: number;
  /** Memory in MiB. @default - 4096 */
  readonly memoryMiB?: number;
  /** Swap in MiB. @default - 512 */
  readonly swapMiB?: number;
  /** Root filesystem size in GiB, on the host root storage. @default - 32 */
  readonly diskGiB?: number;
  readonly network?: GuestNetwork;
  /**
   * Bulk storages mounted into the guest, one mount point each at `/mnt/bulk/<storage>`.
   * @default - none: bulk volumes of this guest's apps then stay on the root filesystem
   */
  readonly mounts?: readonly GuestMount[];
  /** Extra Proxmox tags. @default - felhom, the box id and the customer id */
  readonly tags?: readonly string[];
}

export interface GuestNetwork {
  /** Host bridge. @default - vmbr0 */
  readonly bridge?: string;
  /** `dhcp` or a CIDR address such as `192.168.1.50/24`. @default - dhcp */
  readonly ipv4?: string;
  /** IPv4 gateway, required with a static address. @default - none (DHCP) */
  readonly gateway?: string;
  /** VLAN tag. @default - untagged */
  readonly vlan?: number;
}

export interface GuestMount {
  /** A storage from the manifest with the `bulk` role. */
  readonly storage: string;
  /** Size of the mount point volume in GiB. */
  readonly sizeGiB: number;
  /** Include this mount point in the guest's vzdump backup. @default - false (bulk has its own policy) */
  readonly backup?: boolean;
}

export type StorageType = 'dir' | 'nfs' | 'cifs' | 'pbs';
export type StorageClass = 'fast' | 'slow';
/**
 * What a storage is for:
 * - `bulk`: mount point volumes for bulk app data (media, files);
 * - `backup`: vzdump backups of guests (a local backup tier, or offsite for PBS);
 * - `rootfs`: guest root filesystems (hot data); must be fast;
 * - `templates`: container templates and ISO images.
 */
export type StorageRole = 'bulk' | 'backup' | 'rootfs' | 'templates';

interface StorageCommon {
  /** The Proxmox storage id; unique on the host. */
  readonly name: string;
  /** fast (SSD/NVMe) or slow (USB disk, spinning NAS), set once at attach. */
  readonly class: StorageClass;
  /** Rough random IOPS, recorded with the class. @default - none recorded */
  readonly iops?: number;
  readonly roles: readonly StorageRole[];
}

/** A local disk (for example a USB disk) mounted on the host by filesystem UUID. */
export interface DirStorageSpec extends StorageCommon {
  readonly type: 'dir';
  /** Filesystem UUID of the disk (`blkid`): the durable identity. */
  readonly identity: string;
  /** Where the host mounts it. @default - /mnt/felhom/<name> */
  readonly path?: string;
}

/** An NFS export, identified as `server:/export`. */
export interface NfsStorageSpec extends StorageCommon {
  readonly type: 'nfs';
  /** `server:/export`: the durable identity. */
  readonly identity: string;
  /** NFS options. @default - vers=4.2 */
  readonly options?: string;
}

/** An SMB/CIFS share, identified as `//server/share`. */
export interface CifsStorageSpec extends StorageCommon {
  readonly type: 'cifs';
  /** `//server/share`: the durable identity. */
  readonly identity: string;
  readonly username: string;
  readonly password: SecretRef;
  /** SMB domain. @default - none */
  readonly domain?: string;
}

/** A Proxmox Backup Server datastore: the offsite tier. */
export interface PbsStorageSpec extends StorageCommon {
  readonly type: 'pbs';
  readonly identity: PbsIdentity;
  /** The per-customer namespace on the datastore. @default - customers/<customer> */
  readonly namespace?: string;
  /** PBS user with realm and token, for example `felhom-hb-0001@pbs`. */
  readonly username: string;
  readonly password: SecretRef;
  /** The client-side encryption keyfile (PBS's own passphrase-protected keyfile). */
  readonly encryptionKey: SecretRef;
}

export interface PbsIdentity {
  readonly server: string;
  readonly datastore: string;
  /** The server certificate's SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint: string;
}

export type StorageSpec = DirStorageSpec | NfsStorageSpec | CifsStorageSpec | PbsStorageSpec;

/** Key custody (docs/architecture.md#key-custody): who can open the offsite backup key. */
export type KeyCustody = 'customer-only' | 'zero-knowledge-escrow' | 'operator-managed';

export interface BackupSpec {
  /** @default - zero-knowledge-escrow */
  readonly keyCustody?: KeyCustody;
  /** With `operator-managed` custody (and only then): the operator keys that can unwrap, by OpenPGP fingerprint. */
  readonly keyCustodyOperators?: readonly string[];
  /** Guest backup jobs (vzdump): each to one storage with the `backup` role. */
  readonly jobs: readonly BackupJobSpec[];
  /** Take a transient snapshot before every deploy and roll back on a failed health check. @default - true */
  readonly snapshotBeforeDeploy?: boolean;
  /** File-level backup of bulk volumes whose manifest asks for one. @default - none: bulk is not backed up */
  readonly bulk?: BulkBackupSpec;
}

export interface BackupJobSpec {
  /** Job name, unique in the spec. */
  readonly name: string;
  /** A storage with the `backup` role. */
  readonly storage: string;
  /** Proxmox calendar event, for example `*-*-* 02:30` or `sun 03:00`. */
  readonly schedule: string;
  /** Guests to back up by name. @default - every guest */
  readonly guests?: readonly string[];
  /** vzdump mode. @default - snapshot */
  readonly mode?: 'snapshot' | 'suspend' | 'stop';
  readonly retention: Retention;
}

export interface BulkBackupSpec {
  /** A storage with the `backup` role receiving the file-level copies. */
  readonly storage: string;
  /** Proxmox/systemd calendar event. */
  readonly schedule: string;
  readonly retention: Retention;
}

export interface Retention {
  readonly keepLast?: number;
  readonly keepHourly?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
  readonly keepYearly?: number;
}

export interface AppSpec {
  /** Instance name, unique in the spec (one template may be deployed twice). */
  readonly name: string;
  /** The catalog app (`templates/apps/<template>/.felhom.yml`). */
  readonly template: string;
  /** The guest that runs it. @default - the first guest */
  readonly guest?: string;
  /** Public hostname inside the customer domain. @default - <name>.<domain> */
  readonly hostname?: string;
  /** Values for the manifest's parameters. @default - the manifest's defaults */
  readonly parameters?: Readonly<Record<string, string | number | boolean>>;
  /** Per-volume placement overrides, by manifest volume name. @default - placed by class */
  readonly volumes?: Readonly<Record<string, VolumePlacement>>;
}

export interface VolumePlacement {
  /** A storage mounted into the app's guest (bulk), or `rootfs` for the guest's root filesystem. */
  readonly storage: string;
}

export interface EdgeSpec {
  readonly cloudflare: CloudflareSpec;
  readonly tunnel?: TunnelSpec;
  /** Hostname of the customer's controller UI. @default - controller.<domain> */
  readonly controllerHostname?: string;
  /** Geo restriction enforced by the hub as a Cloudflare WAF rule. @default - none */
  readonly geo?: GeoSpec;
}

export interface CloudflareSpec {
  /** Cloudflare account id (32 hex). */
  readonly accountId: string;
  /** Cloudflare zone id of the customer domain (32 hex). */
  readonly zoneId: string;
}

export interface TunnelSpec {
  /** Tunnel name. @default - felhom-<box> */
  readonly name?: string;
  /**
   * The tunnel token for the host's `cloudflared`, filled in by the hub from the edge stack's
   * output (it crosses tiers through the hub record, encrypted to the agent key).
   * @default - none: the host tier then does not install `cloudflared` yet
   */
  readonly token?: SecretRef;
}

export interface GeoSpec {
  /** `allow`: only these countries may reach the apps; `deny`: these may not. */
  readonly mode: 'allow' | 'deny';
  /** ISO 3166-1 alpha-2 country codes. */
  readonly countries: readonly string[];
  /** Hostnames exempt from the rule (for example a public share). @default - none */
  readonly exemptHostnames?: readonly string[];
}

export interface PolicySettings {
  /** Mandatory rules this box downgrades to advisory, by rule name. @default - none */
  readonly advisory?: readonly string[];
}
