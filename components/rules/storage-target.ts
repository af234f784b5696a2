/**
 * The storage target's argument types and rules (components/storage-target.ts): pure functions that need no Pulumi
 * runtime, so the box spec validator checks a spec with the same rules the component applies.
 */
import type * as pulumi from '@pulumi/pulumi';
import { duplicates, integerBetween, isAbsolutePath, isHostname, isIpv4, isProxmoxId, nonEmpty, shown, storagePathProblem, type Rule } from '../validation.js';

export const STORAGE_TARGET_TYPE = 'felhom:host:StorageTarget';

export type StorageTargetType = 'dir' | 'nfs' | 'cifs' | 'pbs';
export type StorageTargetClass = 'fast' | 'slow';
/** What a storage is for; see stacks/spec/types.ts `StorageRole`. */
export type StorageTargetRole = 'bulk' | 'backup' | 'rootfs' | 'templates';

/** Proxmox content types each role needs. */
export const CONTENT_BY_ROLE: Readonly<Record<StorageTargetRole, readonly string[]>> = {
  bulk: ['rootdir'],
  backup: ['backup'],
  rootfs: ['rootdir', 'images'],
  templates: ['vztmpl', 'iso'],
};

/** The Proxmox content types for a set of roles: deduplicated, in a stable order. */
export function contentsForRoles(roles: readonly StorageTargetRole[]): string[] {
  const contents = new Set<string>();
  for (const role of roles) for (const content of CONTENT_BY_ROLE[role] ?? []) contents.add(content);
  return [...contents].sort();
}

interface StorageTargetCommonArgs {
  /** The Proxmox storage id (`pvesm status`), unique on the host. */
  readonly storageId: string;
  /** fast (SSD/NVMe) or slow (USB disk, spinning NAS), set once at attach. */
  readonly class: StorageTargetClass;
  /** Rough random IOPS, recorded with the class. @default - none recorded */
  readonly iops?: number;
  /** What the storage is for; its Proxmox content types follow from these. */
  readonly roles: readonly StorageTargetRole[];
  /** Nodes the storage is available on. @default - every node of the cluster */
  readonly nodes?: readonly string[];
  /**
   * Allow Pulumi to delete or replace the storage. Only for a deliberate, signed operator job:
   * removing a storage that guests mount or back up to takes customer data offline.
   * @default - false: the storage is protected
   */
  readonly allowDestroy?: boolean;
}

/** A local disk the host mounts by filesystem UUID (the agent mounts it before this runs). */
export interface DirStorageTargetArgs extends StorageTargetCommonArgs {
  readonly type: 'dir';
  /** Where the host mounts the disk, for example `/mnt/felhom/usb1`. */
  readonly path: string;
}

export interface NfsStorageTargetArgs extends StorageTargetCommonArgs {
  readonly type: 'nfs';
  /** NFS server name or IP address. */
  readonly server: string;
  /** The exported path, for example `/volume1/felhom`. */
  readonly export: string;
  /** NFS mount options. @default - vers=4.2 */
  readonly options?: string;
}

export interface CifsStorageTargetArgs extends StorageTargetCommonArgs {
  readonly type: 'cifs';
  /** SMB server name or IP address. */
  readonly server: string;
  /** The share name (without slashes). */
  readonly share: string;
  readonly username: string;
  /** The SMB password; kept as a Pulumi secret. */
  readonly password: pulumi.Input<string>;
  /** SMB domain. @default - none */
  readonly domain?: string;
}

export interface PbsStorageTargetArgs extends StorageTargetCommonArgs {
  readonly type: 'pbs';
  /** PBS server name or IP address (port 8007). */
  readonly server: string;
  readonly datastore: string;
  /** The server certificate's SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint: string;
  /** The per-customer namespace on the datastore, for example `customers/cust-0001`. @default - the datastore root */
  readonly namespace?: string;
  /** PBS user with realm (`felhom-hb-0001@pbs`) or API token (`user@pbs!token`). */
  readonly username: string;
  /** The PBS password or token secret; kept as a Pulumi secret. */
  readonly password: pulumi.Input<string>;
  /** The client-side encryption key (PBS's keyfile JSON); kept as a Pulumi secret. Required: offsite is zero-knowledge (docs/architecture.md#key-custody). */
  readonly encryptionKey: pulumi.Input<string>;
}

export type StorageTargetArgs = DirStorageTargetArgs | NfsStorageTargetArgs | CifsStorageTargetArgs | PbsStorageTargetArgs;

const ROLES: readonly StorageTargetRole[] = ['bulk', 'backup', 'rootfs', 'templates'];
const FINGERPRINT = /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/i;

function isServer(value: unknown): boolean {
  return isIpv4(value) || isHostname(typeof value === 'string' ? value.toLowerCase() : value);
}

/** The argument rules of {@link StorageTarget}. */
export const storageTargetRules: readonly Rule<StorageTargetArgs>[] = [
  { field: 'storageId', check: (a) => (isProxmoxId(a.storageId) ? undefined : `expected a Proxmox storage id (a letter, then letters, digits, "-", "_", "."), got ${shown(a.storageId)}`) },
  {
    field: 'type',
    check: (a) => (['dir', 'nfs', 'cifs', 'pbs'].includes((a as { type: unknown }).type as string) ? undefined : `expected one of dir, nfs, cifs, pbs, got ${shown((a as { type: unknown }).type)}`),
  },
  { field: 'class', check: (a) => (a.class === 'fast' || a.class === 'slow' ? undefined : `expected fast or slow, got ${shown(a.class)}`) },
  { field: 'iops', check: (a) => (a.iops === undefined ? undefined : integerBetween(a.iops, 1, 10_000_000, 'IOPS')) },
  {
    field: 'roles',
    check: (a) => {
      const roles = Array.isArray(a.roles) ? a.roles : [];
      if (roles.length === 0) return `expected at least one of ${ROLES.join(', ')}, got ${shown(a.roles)}`;
      const unknown = roles.filter((role) => !ROLES.includes(role));
      if (unknown.length > 0) return `expected roles from ${ROLES.join(', ')}, got ${shown(unknown)}`;
      const repeated = duplicates(roles);
      return repeated.length > 0 ? `expected each role once, got ${shown(repeated)} more than once` : undefined;
    },
  },
  {
    // Hot data (DB, config) lives on the guest rootfs and must be fast (docs/architecture.md#data-placement).
    field: 'roles',
    check: (a) => (Array.isArray(a.roles) && a.roles.includes('rootfs') && a.class !== 'fast' ? `expected class fast for a storage with the rootfs role, got ${shown(a.class)}` : undefined),
  },
  {
    // Proxmox Backup Server only stores backups.
    field: 'roles',
    check: (a) => (a.type === 'pbs' && Array.isArray(a.roles) && a.roles.some((role) => role !== 'backup') ? `expected only the backup role on a pbs storage, got ${shown(a.roles)}` : undefined),
  },
  {
    field: 'nodes',
    check: (a) => (a.nodes === undefined || (a.nodes.length > 0 && a.nodes.every((n) => nonEmpty(n) === undefined)) ? undefined : `expected a non-empty list of node names, got ${shown(a.nodes)}`),
  },
  { field: 'path', check: (a) => (a.type !== 'dir' ? undefined : storagePathProblem(a.path)) },
  { field: 'server', check: (a) => (!(a.type === 'nfs' || a.type === 'cifs' || a.type === 'pbs') || isServer(a.server) ? undefined : `expected a server host name or IPv4 address, got ${shown(a.server)}`) },
  { field: 'export', check: (a) => (a.type !== 'nfs' || isAbsolutePath(a.export) ? undefined : `expected an absolute export path such as "/volume1/felhom", got ${shown(a.export)}`) },
  { field: 'share', check: (a) => (a.type !== 'cifs' || (typeof a.share === 'string' && /^[^/\\\s][^/\\]*$/.test(a.share)) ? undefined : `expected a share name without slashes, got ${shown(a.share)}`) },
  {
    field: 'username',
    check: (a) => {
      if (a.type === 'cifs') return nonEmpty(a.username, 'an SMB user name');
      if (a.type === 'pbs') return /^[^\s@!]+@[a-z0-9._-]+(![a-z0-9._-]+)?$/i.test(a.username ?? '') ? undefined : `expected a PBS user "name@realm" or token "name@realm!token", got ${shown(a.username)}`;
      return undefined;
    },
  },
  { field: 'password', check: (a) => ((a.type === 'cifs' || a.type === 'pbs') && (a.password === undefined || a.password === '') ? 'expected a password (a Pulumi secret), got nothing' : undefined) },
  { field: 'datastore', check: (a) => (a.type !== 'pbs' || isProxmoxId(a.datastore) ? undefined : `expected a PBS datastore name, got ${shown(a.datastore)}`) },
  { field: 'fingerprint', check: (a) => (a.type !== 'pbs' || FINGERPRINT.test(a.fingerprint ?? '') ? undefined : `expected a SHA-256 fingerprint as 32 colon-separated hex bytes, got ${shown(a.fingerprint)}`) },
  {
    field: 'namespace',
    check: (a) => (a.type !== 'pbs' || a.namespace === undefined || /^[a-z0-9_-]+(\/[a-z0-9_-]+){0,7}$/i.test(a.namespace) ? undefined : `expected a PBS namespace such as "customers/cust-0001" (at most 8 levels), got ${shown(a.namespace)}`),
  },
  {
    // Zero-knowledge offsite (docs/architecture.md#key-custody): the operator must hold only ciphertext.
    field: 'encryptionKey',
    check: (a) => (a.type === 'pbs' && (a.encryptionKey === undefined || a.encryptionKey === '') ? 'expected the client-side encryption key: offsite backups are always encrypted, got nothing' : undefined),
  },
];
