/**
 * A scheduled vzdump backup job (docs/architecture.md#backup-tiers): guest backups to one storage with the `backup`
 * role, on a Proxmox calendar schedule, with keep-* retention.
 *
 * Bulk data is out of the guest backup by construction: vzdump includes a volume mount point
 * only when its `backup` flag is on, and CustomerLxc writes `backup=0` on every bulk mount
 * point unless the spec opts one in. The job can additionally exclude paths inside the guest.
 */
import * as pulumi from '@pulumi/pulumi';
import * as proxmoxve from '@muhlba91/pulumi-proxmoxve';
import { checkInputs, gated, type WithInputs } from './inputs.js';
import { BACKUP_JOB_TYPE, backupJobRules, pruneBackups, type BackupJobArgs } from './rules/backup-job.js';
export * from './rules/backup-job.js';

/**
 * {@link BackupJobArgs} where the storage (a StorageTarget's `storageId`), the node and the
 * guests' VM ids (CustomerLxc's `vmId`) may be outputs; the rules check them once known.
 */
export type BackupJobInputs = WithInputs<Omit<BackupJobArgs, 'vmIds'>, 'storage' | 'node'> & {
  /** The guests to back up. */
  readonly vmIds: readonly pulumi.Input<number>[];
};

export class BackupJob extends pulumi.ComponentResource {
  readonly jobId: pulumi.Output<string>;
  readonly storage: pulumi.Output<string>;
  readonly schedule: pulumi.Output<string>;

  constructor(name: string, args: BackupJobInputs, opts?: pulumi.ComponentResourceOptions) {
    const gate = checkInputs(BACKUP_JOB_TYPE, name, backupJobRules, args);
    super(BACKUP_JOB_TYPE, name, {}, opts);

    const job = new proxmoxve.backup.Job(
      `${name}-job`,
      {
        resourceId: args.jobId,
        storage: args.storage,
        schedule: args.schedule,
        vmids: args.vmIds.map((vmId) => pulumi.output(vmId).apply(String)),
        ...(args.node !== undefined ? { node: args.node } : {}),
        mode: args.mode ?? 'snapshot',
        compress: args.compress ?? 'zstd',
        pruneBackups: pruneBackups(args),
        ...(args.excludePaths && args.excludePaths.length > 0 ? { excludePaths: [...args.excludePaths] } : {}),
        enabled: args.enabled ?? true,
        repeatMissed: args.repeatMissed ?? true,
        // The gate of args given as outputs rides on the notes, which Proxmox updates in place.
        notesTemplate: gated(gate, args.notesTemplate ?? '{{guestname}} (felhom)'),
      },
      // The job id is unique on the cluster: a replacement must remove the old job first.
      { parent: this, deleteBeforeReplace: true },
    );

    this.jobId = job.resourceId;
    this.storage = job.storage;
    this.schedule = job.schedule;
    this.registerOutputs({ jobId: this.jobId, storage: this.storage, schedule: this.schedule });
  }
}
