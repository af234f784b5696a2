/**
 * One Proxmox storage from the storage manifest (docs/architecture.md#storage-manifest): a local disk (`dir`), an NFS export,
 * an SMB/CIFS share, or a Proxmox Backup Server datastore. Its content types follow from its
 * roles; its class (fast/slow, rough IOPS) is kept as component outputs, because Proxmox's
 * storage configuration has no free-text field the provider exposes (the hub record keeps
 * the class durably).
 */
import * as pulumi from '@pulumi/pulumi';
import * as proxmoxve from '@muhlba91/pulumi-proxmoxve';
import { checkInputs, gated, type WithInputs } from './inputs.js';
import { contentsForRoles, STORAGE_TARGET_TYPE, storageTargetRules, type StorageTargetArgs, type StorageTargetClass, type StorageTargetRole, type StorageTargetType } from './rules/storage-target.js';
export * from './rules/storage-target.js';

/**
 * {@link StorageTargetArgs} where the connection fields (path, server, export, share, datastore,
 * fingerprint, namespace, username, domain) may be outputs; the rules check them once known.
 */
export type StorageTargetInputs = WithInputs<StorageTargetArgs, (typeof STORAGE_TARGET_INPUTS)[number]>;

/** The fields {@link StorageTargetInputs} opens to outputs; the secrets were inputs already. */
const STORAGE_TARGET_INPUTS = ['path', 'server', 'export', 'share', 'datastore', 'fingerprint', 'namespace', 'username', 'domain'] as const;

/**
 * A Proxmox storage. Children: `<name>-storage`, a proxmoxve `storage.Directory`,
 * `storage.Nfs`, `storage.Cifs` or `storage.Pbs`.
 */
export class StorageTarget extends pulumi.ComponentResource {
  /** The Proxmox storage id. */
  readonly storageId: pulumi.Output<string>;
  readonly storageType: pulumi.Output<StorageTargetType>;
  /** The Proxmox content types the roles map to. */
  readonly contents: pulumi.Output<string[]>;
  /** fast or slow, as recorded at attach. */
  readonly storageClass: pulumi.Output<StorageTargetClass>;
  /** Rough IOPS recorded with the class; undefined when none was given. */
  readonly iops: pulumi.Output<number | undefined>;
  readonly roles: pulumi.Output<StorageTargetRole[]>;

  constructor(name: string, args: StorageTargetInputs, opts?: pulumi.ComponentResourceOptions) {
    // Only outputs in these fields defer the check: a secret given as an output never did.
    const gate = checkInputs(STORAGE_TARGET_TYPE, name, storageTargetRules, args, STORAGE_TARGET_INPUTS);
    super(STORAGE_TARGET_TYPE, name, {}, opts);

    const contents = contentsForRoles(args.roles);
    const common = {
      resourceId: args.storageId,
      // The gate of args given as outputs rides on the content types, which Proxmox updates in place.
      contents: gated(gate, contents),
      ...(args.nodes ? { nodes: [...args.nodes] } : {}),
    };
    // The storage id is unique on the host, so a replacement must remove the old definition
    // first. Removing a storage definition never deletes the data on it.
    // Protected like the customer LXC: guests' mount points and backups depend on it.
    const childOpts: pulumi.CustomResourceOptions = { parent: this, deleteBeforeReplace: true, protect: args.allowDestroy !== true };
    const childName = `${name}-storage`;

    switch (args.type) {
      case 'dir':
        new proxmoxve.storage.Directory(
          childName,
          {
            ...common,
            path: args.path,
            // Never let Proxmox create the directory: if the disk is not mounted, it would
            // silently write backups onto the host's root filesystem instead.
            createBasePath: false,
          },
          childOpts,
        );
        break;
      case 'nfs':
        new proxmoxve.storage.Nfs(childName, { ...common, server: args.server, export: args.export, options: args.options ?? 'vers=4.2' }, childOpts);
        break;
      case 'cifs':
        new proxmoxve.storage.Cifs(
          childName,
          {
            ...common,
            server: args.server,
            share: args.share,
            username: args.username,
            password: pulumi.secret(args.password),
            ...(args.domain !== undefined ? { domain: args.domain } : {}),
          },
          childOpts,
        );
        break;
      case 'pbs':
        new proxmoxve.storage.Pbs(
          childName,
          {
            ...common,
            server: args.server,
            datastore: args.datastore,
            fingerprint: args.fingerprint,
            ...(args.namespace !== undefined ? { namespace: args.namespace } : {}),
            username: args.username,
            password: pulumi.secret(args.password),
            encryptionKey: pulumi.secret(args.encryptionKey),
          },
          childOpts,
        );
        break;
    }

    this.storageId = pulumi.output(args.storageId);
    this.storageType = pulumi.output(args.type);
    this.contents = pulumi.output(contents);
    this.storageClass = pulumi.output(args.class);
    this.iops = pulumi.output(args.iops);
    this.roles = pulumi.output([...args.roles]);
    this.registerOutputs({
      storageId: this.storageId,
      storageType: this.storageType,
      contents: this.contents,
      storageClass: this.storageClass,
      iops: this.iops,
      roles: this.roles,
    });
  }
}
