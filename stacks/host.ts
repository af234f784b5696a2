/**
 * The host tier (`<box>.host`), run by the agent on the Proxmox host with the only Proxmox
 * API token: the storage manifest, the customer LXCs from the golden template, the backup
 * jobs, and the host's `cloudflared` (seed §3, §7, §8).
 */
import * as pulumi from '@pulumi/pulumi';
import * as proxmoxve from '@muhlba91/pulumi-proxmoxve';
import { BackupJob } from '../components/backup-job.js';
import { CustomerLxc } from '../components/customer-lxc.js';
import { StorageTarget, type StorageTargetArgs } from '../components/storage-target.js';
import { TunnelConnector } from '../components/tunnel-connector.js';
import type { GoldenTemplate } from '../templates/lib/golden.js';
import { templateFileId } from '../templates/lib/golden.js';
import type { TierEnvironment } from './environment.js';
import { pbsNamespace, storagePath, type ResolvedBox } from './spec/resolve.js';
import type { StorageSpec } from './spec/types.js';
import { providerVersion } from '../engine/plugins.js';

export interface HostOutputs {
  readonly guests: pulumi.Output<Record<string, { vmId: number; hostname: string }>>;
  readonly storages: string[];
}

function storageArgs(storage: StorageSpec, box: ResolvedBox, env: TierEnvironment): StorageTargetArgs {
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
        password: env.secret(storage.password),
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
        password: env.secret(storage.password),
        encryptionKey: env.secret(storage.encryptionKey),
      };
  }
}

export function hostProgram(box: ResolvedBox, golden: GoldenTemplate, env: TierEnvironment): HostOutputs {
  if (!env.proxmoxApiToken) throw new Error('the host tier needs the Proxmox API token, which only the agent holds');
  const local = /^https:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/.test(box.host.endpoint);
  const provider = new proxmoxve.Provider(`${box.box}-proxmox`, {
    endpoint: box.host.endpoint,
    apiToken: env.proxmoxApiToken(),
    // The agent talks to its own host over loopback, where PVE serves its self-signed certificate.
    insecure: local,
  }, { version: providerVersion('proxmoxve') });
  const options = { provider };

  const storages = new Map<string, StorageTarget>();
  for (const storage of box.storage) {
    storages.set(storage.name, new StorageTarget(storage.name, storageArgs(storage, box, env), options));
  }

  if (env.storagesOnly) return { guests: pulumi.output<Record<string, { vmId: number; hostname: string }>>({}), storages: [...storages.keys()] };

  const guests = box.guests.map((guest) => {
    const dependsOn = guest.mounts.map((mount) => storages.get(mount.storage)).filter((target): target is StorageTarget => target !== undefined);
    return new CustomerLxc(
      guest.name,
      {
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
        ...(env.adoptGuests?.includes(guest.vmId) ? { adoptExisting: true } : {}),
      },
      { ...options, dependsOn },
    );
  });

  for (const job of box.backup.jobs) {
    new BackupJob(
      job.name,
      {
        jobId: `felhom-${box.box}-${job.name}`,
        storage: job.storage,
        schedule: job.schedule,
        vmIds: job.vmIds,
        node: box.host.node,
        mode: job.mode,
        ...job.retention,
      },
      { ...options, dependsOn: [...storages.values(), ...guests] },
    );
  }

  if (box.edge.tunnelToken) {
    new TunnelConnector(`${box.box}-cloudflared`, {
      token: env.secret(box.edge.tunnelToken),
      ...(env.hostRootDir ? { rootDir: env.hostRootDir } : {}),
      ...(env.manageServices === false ? { manageService: false } : {}),
    });
  }

  return {
    guests: pulumi.all(guests.map((guest) => pulumi.all([guest.vmId, guest.hostname]))).apply((pairs) =>
      Object.fromEntries(pairs.map(([vmId, hostname]) => [hostname, { vmId, hostname }])),
    ),
    storages: [...storages.keys()],
  };
}
