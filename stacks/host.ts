/**
 * The host tier (`<box>.host`), run by the agent on the Proxmox host with the only Proxmox
 * API token: the storage manifest, the customer LXCs from the golden template, the backup
 * jobs, and the host's `cloudflared` (docs/architecture.md#responsibilities, #tunnel-placement, #storage-and-backup).
 */
import * as pulumi from '@pulumi/pulumi';
import * as proxmoxve from '@muhlba91/pulumi-proxmoxve';
import { BackupJob } from '../components/backup-job.js';
import { CustomerLxc } from '../components/customer-lxc.js';
import { StorageTarget } from '../components/storage-target.js';
import { TunnelConnector } from '../components/tunnel-connector.js';
import type { GoldenTemplate } from '../templates/lib/golden.js';
import { backupJobArgs, customerLxcArgs, storageTargetArgs } from './args.js';
import type { TierEnvironment } from './environment.js';
import type { ResolvedBox } from './spec/resolve.js';
import { providerVersion } from '../engine/plugins.js';

export interface HostOutputs {
  readonly guests: pulumi.Output<Record<string, { vmId: number; hostname: string }>>;
  readonly storages: string[];
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
    storages.set(storage.name, new StorageTarget(storage.name, storageTargetArgs(storage, box, (ref) => env.secret(ref)), options));
  }

  if (env.storagesOnly) return { guests: pulumi.output<Record<string, { vmId: number; hostname: string }>>({}), storages: [...storages.keys()] };

  const guests = box.guests.map((guest) => {
    const dependsOn = guest.mounts.map((mount) => storages.get(mount.storage)).filter((target): target is StorageTarget => target !== undefined);
    return new CustomerLxc(
      guest.name,
      { ...customerLxcArgs(guest, box, golden), ...(env.adoptGuests?.includes(guest.vmId) ? { adoptExisting: true } : {}) },
      { ...options, dependsOn },
    );
  });

  for (const job of box.backup.jobs) {
    new BackupJob(
      job.name,
      backupJobArgs(job, box),
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
