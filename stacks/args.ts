/**
 * The components' arguments as the tier programs build them from a resolved box: pure
 * functions, shared by the programs (stacks/host.ts, guest.ts, edge.ts) and by the box spec
 * validator, which checks the same arguments with the components' own rules
 * (stacks/spec/component-checks.ts), so whatever `plan` would refuse `validate` refuses first.
 */
import type { Input } from '@pulumi/pulumi';
import type { AppStackArgs, AppVolumePlacement } from '../components/rules/app-stack.js';
import type { BackupJobArgs } from '../components/rules/backup-job.js';
import type { CustomerLxcArgs } from '../components/rules/customer-lxc.js';
import type { GeoWafArgs } from '../components/rules/geo-waf.js';
import type { StorageTargetArgs } from '../components/rules/storage-target.js';
import { templateFileId, type GoldenTemplate } from '../templates/lib/golden.js';
import { pbsNamespace, storagePath, type ResolvedApp, type ResolvedBackupJob, type ResolvedBox, type ResolvedGuest } from './spec/resolve.js';
import type { SecretRef, StorageSpec } from './spec/types.js';

/** Turns a secret reference into the component's input (a Pulumi secret in a program). */
export type SecretInput = (ref: SecretRef) => Input<string>;

export function storageTargetArgs(storage: StorageSpec, box: ResolvedBox, secret: SecretInput): StorageTargetArgs {
  const common = { storageId: storage.name, class: storage.class, roles: storage.roles, nodes: [box.host.node], ...(storage.iops ? { iops: storage.iops } : {}) };
  switch (storage.type) {
    case 'dir':
      return { ...common, type: 'dir', path: storagePath(storage)! };
    case 'nfs': {
      const [server, ...rest] = storage.identity.split(':');
      return { ...common, type: 'nfs', server: server!, export: rest.join(':'), ...(storage.options ? { options: storage.options } : {}) };
    }
    case 'cifs': {
      const [, , server, ...share] = storage.identity.split('/');
      return {
        ...common,
        type: 'cifs',
        server: server!,
        share: share.join('/'),
        username: storage.username,
        password: secret(storage.password),
        ...(storage.domain ? { domain: storage.domain } : {}),
      };
    }
    case 'pbs':
      return {
        ...common,
        type: 'pbs',
        server: storage.identity.server,
        datastore: storage.identity.datastore,
        fingerprint: storage.identity.fingerprint,
        namespace: pbsNamespace(storage, box.customer),
        username: storage.username,
        password: secret(storage.password),
        encryptionKey: secret(storage.encryptionKey),
      };
  }
}

export function customerLxcArgs(guest: ResolvedGuest, box: ResolvedBox, golden: GoldenTemplate): CustomerLxcArgs {
  return {
    node: box.host.node,
    vmId: guest.vmId,
    hostname: guest.name,
    osTemplateFileId: templateFileId(golden, box.host.templateStorage),
    osType: golden.os.type,
    cores: guest.cores,
    memoryMiB: guest.memoryMiB,
    swapMiB: guest.swapMiB,
    rootStorage: box.host.rootStorage,
    diskGiB: guest.diskGiB,
    features: golden.features,
    unprivileged: golden.unprivileged,
    mountPoints: guest.mounts.map((mount) => ({ storage: mount.storage, sizeGiB: mount.sizeGiB, path: mount.path, backup: mount.backup })),
    network: {
      bridge: guest.network.bridge,
      ipv4: guest.network.ipv4,
      ...(guest.network.gateway ? { gateway: guest.network.gateway } : {}),
      ...(guest.network.vlan ? { vlan: guest.network.vlan } : {}),
    },
    startOnBoot: golden.startOnBoot,
    tags: [...guest.tags],
    description: `Felhom customer guest ${guest.name} of box ${box.box} (customer ${box.customer}); managed by the agent`,
  };
}

export function backupJobArgs(job: ResolvedBackupJob, box: ResolvedBox): BackupJobArgs {
  return {
    jobId: `felhom-${box.box}-${job.name}`,
    storage: job.storage,
    schedule: job.schedule,
    vmIds: job.vmIds,
    node: box.host.node,
    mode: job.mode,
    ...job.retention,
  };
}

export function appStackArgs(app: ResolvedApp): AppStackArgs {
  const placement: Record<string, AppVolumePlacement> = Object.fromEntries(
    app.volumes.map((volume) => [volume.name, volume.hostPath ? { kind: 'bind', hostPath: volume.hostPath } : { kind: 'docker-volume' }]),
  );
  return { instanceName: app.name, manifest: app.manifest, hostname: app.hostname, parameters: app.parameters, placement };
}

export function geoWafArgs(box: ResolvedBox): GeoWafArgs | undefined {
  const geo = box.edge.geo;
  if (!geo) return undefined;
  return { zoneId: box.edge.zoneId, mode: geo.mode, countries: geo.countries, ...(geo.exemptHostnames ? { exemptHostnames: geo.exemptHostnames } : {}) };
}
