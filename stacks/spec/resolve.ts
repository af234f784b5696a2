/**
 * A validated box spec with every default applied and every reference followed: the one
 * model the tier programs and the policies read, so a default is decided in exactly one place.
 */
import type { AppManifest, VolumeClass } from '../../templates/lib/manifest.js';
import type {
  BackupJobSpec,
  BoxSpec,
  BulkBackupSpec,
  GeoSpec,
  KeyCustody,
  SecretRef,
  StorageSpec,
} from './types.js';
import type { CatalogLookup } from './validate.js';
import type { GoldenSizing } from '../../templates/lib/golden.js';

export const DEFAULTS = {
  endpoint: 'https://127.0.0.1:8006/',
  rootStorage: 'local-lvm',
  templateStorage: 'local',
  rootStorageIops: 10_000,
  bridge: 'vmbr0',
  keyCustody: 'zero-knowledge-escrow' as KeyCustody,
  backupMode: 'snapshot' as const,
  nfsOptions: 'vers=4.2',
  bulkMountRoot: '/mnt/bulk',
  dirMountRoot: '/mnt/felhom',
  /** Where the in-guest controller serves the customer's audit page (`controller run --ui-listen 0.0.0.0:8080`). */
  controllerUiPort: 8080,
} as const;

export interface ResolvedMount {
  readonly storage: string;
  readonly sizeGiB: number;
  readonly backup: boolean;
  /** Path inside the guest: /mnt/bulk/<storage>. */
  readonly path: string;
}

export interface ResolvedGuest {
  readonly name: string;
  readonly vmId: number;
  readonly cores: number;
  readonly memoryMiB: number;
  readonly swapMiB: number;
  readonly diskGiB: number;
  readonly network: { readonly bridge: string; readonly ipv4: string; readonly gateway?: string; readonly vlan?: number };
  readonly mounts: readonly ResolvedMount[];
  readonly tags: readonly string[];
  /** Where the host's cloudflared reaches this guest's Traefik. */
  readonly serviceUrl: string;
  /** Where the host's cloudflared reaches this guest's controller UI, the customer's audit page. */
  readonly controllerUiUrl: string;
}

export interface ResolvedVolume {
  readonly name: string;
  readonly class: VolumeClass;
  /** `rootfs` (a Docker volume on the guest root filesystem) or a bulk storage's name. */
  readonly storage: string;
  /** For bulk placement: the bind-mount source inside the guest. */
  readonly hostPath?: string;
}

export interface ResolvedApp {
  readonly name: string;
  readonly template: string;
  readonly manifest: AppManifest;
  readonly guest: string;
  readonly hostname: string;
  readonly parameters: Readonly<Record<string, string | number | boolean>>;
  readonly volumes: readonly ResolvedVolume[];
}

export interface ResolvedBackupJob extends Omit<BackupJobSpec, 'guests' | 'mode'> {
  readonly guests: readonly string[];
  readonly vmIds: readonly number[];
  readonly mode: 'snapshot' | 'suspend' | 'stop';
}

export interface ResolvedBox {
  readonly box: string;
  readonly customer: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly domain: string;
  readonly environment: 'production' | 'lab';
  readonly host: { readonly node: string; readonly endpoint: string; readonly rootStorage: string; readonly templateStorage: string; readonly rootStorageIops: number };
  readonly guests: readonly ResolvedGuest[];
  readonly storage: readonly StorageSpec[];
  readonly backup: {
    readonly keyCustody: KeyCustody;
    readonly jobs: readonly ResolvedBackupJob[];
    readonly snapshotBeforeDeploy: boolean;
    readonly bulk?: BulkBackupSpec;
  };
  readonly apps: readonly ResolvedApp[];
  readonly edge: {
    readonly accountId: string;
    readonly zoneId: string;
    readonly tunnelName: string;
    readonly tunnelToken?: SecretRef;
    readonly controllerHostname: string;
    /** The guest serving the controller UI: the first guest. */
    readonly controllerGuest: string;
    readonly geo?: GeoSpec;
  };
  readonly advisoryRules: readonly string[];
}

export function storagePath(storage: StorageSpec): string | undefined {
  return storage.type === 'dir' ? (storage.path ?? `${DEFAULTS.dirMountRoot}/${storage.name}`) : undefined;
}

export function pbsNamespace(storage: StorageSpec & { type: 'pbs' }, customer: string): string {
  return storage.namespace ?? `customers/${customer}`;
}

/**
 * Applies defaults to a spec that `validateBoxSpec` accepted with the same catalog; guest
 * sizing defaults come from the golden LXC template. Throws when an app's template is missing
 * from the catalog, which validation reports first.
 */
export function resolveBox(spec: BoxSpec, catalog: CatalogLookup, sizing: GoldenSizing): ResolvedBox {
  const body = spec.spec;
  const guests: ResolvedGuest[] = body.guests.map((guest) => {
    const ipv4 = guest.network?.ipv4 ?? 'dhcp';
    return {
      name: guest.name,
      vmId: guest.vmId,
      cores: guest.cores ?? sizing.cores,
      memoryMiB: guest.memoryMiB ?? sizing.memoryMiB,
      swapMiB: guest.swapMiB ?? sizing.swapMiB,
      diskGiB: guest.diskGiB ?? sizing.diskGiB,
      network: {
        bridge: guest.network?.bridge ?? DEFAULTS.bridge,
        ipv4,
        ...(guest.network?.gateway ? { gateway: guest.network.gateway } : {}),
        ...(guest.network?.vlan ? { vlan: guest.network.vlan } : {}),
      },
      mounts: (guest.mounts ?? []).map((mount) => ({
        storage: mount.storage,
        sizeGiB: mount.sizeGiB,
        backup: mount.backup ?? false,
        path: `${DEFAULTS.bulkMountRoot}/${mount.storage}`,
      })),
      tags: [...new Set(['felhom', spec.metadata.box, spec.metadata.customer, ...(guest.tags ?? [])])],
      // With DHCP the address is not known ahead; the host resolves the guest by name.
      serviceUrl: `http://${ipv4 === 'dhcp' ? guest.name : ipv4.split('/')[0]}:80`,
      controllerUiUrl: `http://${ipv4 === 'dhcp' ? guest.name : ipv4.split('/')[0]}:${DEFAULTS.controllerUiPort}`,
    };
  });
  const guestByName = new Map(guests.map((guest) => [guest.name, guest]));

  const apps: ResolvedApp[] = (body.apps ?? []).map((app) => {
    const manifest = catalog(app.template);
    if (!manifest) throw new Error(`unknown app template "${app.template}"`);
    const guest = guestByName.get(app.guest ?? guests[0]!.name)!;
    const defaultBulk = guest.mounts[0];
    const parameters = Object.fromEntries(
      (manifest.parameters ?? []).flatMap((parameter) => {
        const value = app.parameters?.[parameter.name] ?? parameter.default;
        return value === undefined ? [] : [[parameter.name, value]];
      }),
    );
    const volumes = (manifest.volumes ?? []).map((volume): ResolvedVolume => {
      const override = app.volumes?.[volume.name]?.storage;
      const storage = override ?? (volume.class === 'bulk' && defaultBulk ? defaultBulk.storage : 'rootfs');
      if (storage === 'rootfs') return { name: volume.name, class: volume.class, storage };
      const mount = guest.mounts.find((candidate) => candidate.storage === storage);
      return { name: volume.name, class: volume.class, storage, hostPath: `${mount?.path ?? `${DEFAULTS.bulkMountRoot}/${storage}`}/${app.name}/${volume.name}` };
    });
    return {
      name: app.name,
      template: app.template,
      manifest,
      guest: guest.name,
      hostname: app.hostname ?? `${app.name}.${body.domain}`,
      parameters,
      volumes,
    };
  });

  const allGuestNames = guests.map((guest) => guest.name);
  const jobs: ResolvedBackupJob[] = body.backup.jobs.map((job) => {
    const names = job.guests ?? allGuestNames;
    return { ...job, guests: names, vmIds: names.map((name) => guestByName.get(name)!.vmId), mode: job.mode ?? DEFAULTS.backupMode };
  });

  return {
    box: spec.metadata.box,
    customer: spec.metadata.customer,
    labels: spec.metadata.labels ?? {},
    domain: body.domain,
    environment: body.environment ?? 'production',
    host: {
      node: body.host.node,
      endpoint: body.host.endpoint ?? DEFAULTS.endpoint,
      rootStorage: body.host.rootStorage ?? DEFAULTS.rootStorage,
      templateStorage: body.host.templateStorage ?? DEFAULTS.templateStorage,
      rootStorageIops: body.host.rootStorageIops ?? DEFAULTS.rootStorageIops,
    },
    guests,
    storage: body.storage ?? [],
    backup: {
      keyCustody: body.backup.keyCustody ?? DEFAULTS.keyCustody,
      jobs,
      snapshotBeforeDeploy: body.backup.snapshotBeforeDeploy ?? true,
      ...(body.backup.bulk ? { bulk: body.backup.bulk } : {}),
    },
    apps,
    edge: {
      accountId: body.edge.cloudflare.accountId,
      zoneId: body.edge.cloudflare.zoneId,
      tunnelName: body.edge.tunnel?.name ?? `felhom-${spec.metadata.box}`,
      ...(body.edge.tunnel?.token ? { tunnelToken: body.edge.tunnel.token } : {}),
      controllerHostname: body.edge.controllerHostname ?? `controller.${body.domain}`,
      controllerGuest: guests[0]!.name,
      ...(body.edge.geo ? { geo: body.edge.geo } : {}),
    },
    advisoryRules: body.policy?.advisory ?? [],
  };
}
