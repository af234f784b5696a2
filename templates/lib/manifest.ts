/**
 * The app manifest: `templates/apps/<app>/.felhom.yml`. What makes a Felhom app safe to run
 * unattended: where each volume lives, what is backed up, how health is checked, how it
 * updates. Reference: docs/catalog.md.
 */

export const MANIFEST_API_VERSION = 'felhom.dev/app/v1alpha1';

export interface AppManifest {
  readonly apiVersion: typeof MANIFEST_API_VERSION;
  /** Catalog id: lower-case letters, digits and dashes; the directory name. */
  readonly name: string;
  /** Human title for the customer UI. */
  readonly title: string;
  readonly description: string;
  /** Upstream version this manifest packages. */
  readonly version: string;
  /** Upstream home page. */
  readonly website?: string;
  /** The service and port Traefik routes the app's hostname to. */
  readonly http?: HttpEntry;
  readonly services: readonly ServiceSpec[];
  /** Named volumes shared by the services, each classified hot or bulk. @default - none */
  readonly volumes?: readonly VolumeSpec[];
  /** Values the operator sets per box (`apps[].parameters`). @default - none */
  readonly parameters?: readonly ParameterSpec[];
  /** Secrets generated once per app instance and kept as Pulumi secrets. @default - none */
  readonly secrets?: readonly GeneratedSecret[];
  /** Minimum guest memory for the app to run at all, in MiB. */
  readonly minMemoryMiB?: number;
  readonly backup?: AppBackup;
  readonly update?: UpdatePolicy;
  /** Ports that must be reachable other than through the tunnel. @default - none */
  readonly exposedPorts?: readonly ExposedPort[];
  /** Catalog categories for the customer UI, for example `photos`, `media`. @default - none */
  readonly categories?: readonly string[];
  /** The upstream compose file this manifest was written from (URL), so a reviewer can diff it. @default - none */
  readonly upstreamCompose?: string;
}

export interface HttpEntry {
  readonly service: string;
  readonly port: number;
  /** @default - / */
  readonly path?: string;
}

export interface ServiceSpec {
  /** Service name, unique in the manifest; the container is `<app instance>-<service>`. */
  readonly name: string;
  /** Image reference without tag, for example `ghcr.io/immich-app/immich-server`. */
  readonly image: string;
  /** Upstream tag. */
  readonly tag: string;
  /** `sha256:...` digest that pins the tag. @default - none: pinned by tag only (advisory on lab boxes) */
  readonly digest?: string;
  /** Environment; values may use `${param.<name>}`, `${secret.<name>}`, `${service.<name>}`, `${app.hostname}`. */
  readonly environment?: Readonly<Record<string, string>>;
  /** Container command override. @default - the image's */
  readonly command?: readonly string[];
  /** Container entrypoint override. @default - the image's */
  readonly entrypoint?: readonly string[];
  /** What the service is for: the customer UI groups them, backups know which one holds the database. @default - app */
  readonly role?: ServiceRole;
  /** Ports the container listens on inside the app network. @default - none */
  readonly ports?: readonly number[];
  /** Volume mounts into this container. @default - none */
  readonly mounts?: readonly MountSpec[];
  readonly healthcheck?: HealthCheck;
  /** Services this one waits for. @default - none */
  readonly dependsOn?: readonly string[];
  /**
   * What to wait for per `dependsOn` entry, in Compose's words.
   * @default - service_started for every entry
   */
  readonly dependsOnCondition?: Readonly<Record<string, DependencyCondition>>;
  /** Linux capabilities added, only from the safe list (docs/catalog.md#refusals-and-the-safe-capability-list). @default - none */
  readonly capAdd?: readonly string[];
  /** Size of /dev/shm in MiB (PostgreSQL wants more than Docker's 64). @default - 64 */
  readonly shmSizeMiB?: number;
  readonly resources?: Resources;
  /** Run as this user (`uid:gid`). @default - the image's */
  readonly user?: string;
  /** @default - unless-stopped */
  readonly restart?: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  /** Tmpfs mounts (path → size in MiB). @default - none */
  readonly tmpfs?: Readonly<Record<string, number>>;
  /** A read-only root filesystem (Compose `read_only`); writable paths come from mounts and tmpfs. @default - false */
  readonly readOnly?: boolean;
  /** An init process as PID 1 that reaps zombies (Compose `init`). @default - false: the image's entrypoint is PID 1 */
  readonly init?: boolean;
}

export type ServiceRole = 'app' | 'worker' | 'database' | 'cache';

/** Compose's conditions the platform honours; `service_completed_successfully` is refused (docs/catalog.md). */
export type DependencyCondition = 'service_started' | 'service_healthy';

export interface MountSpec {
  /** A volume from the manifest's `volumes`. */
  readonly volume: string;
  /** Path inside the container. */
  readonly path: string;
  /** @default - false */
  readonly readOnly?: boolean;
}

export interface HealthCheck {
  /** Command in Docker's form, for example `["CMD", "curl", "-f", "http://localhost/"]`. */
  readonly test: readonly string[];
  /** @default - 30 */
  readonly intervalSeconds?: number;
  /** @default - 10 */
  readonly timeoutSeconds?: number;
  /** @default - 3 */
  readonly retries?: number;
  /** @default - 60 */
  readonly startPeriodSeconds?: number;
}

export interface Resources {
  /** Memory limit in MiB. @default - none */
  readonly memoryMiB?: number;
  /** Memory reservation in MiB. @default - none */
  readonly memoryReservationMiB?: number;
  /** CPU limit in cores. @default - none */
  readonly cpus?: number;
}

export type VolumeClass = 'hot' | 'bulk';

export interface VolumeSpec {
  readonly name: string;
  /** hot: DB, config, cache (fast storage, in the guest backup). bulk: media, files (may be slow). */
  readonly class: VolumeClass;
  readonly description?: string;
  /** Backup policy of a bulk volume. @default - file-level */
  readonly backup?: BulkVolumeBackup;
}

export type BulkVolumeBackup =
  | { readonly policy: 'file-level' }
  | { readonly policy: 'none'; /** What the customer is shown, for example "re-downloadable media". */ readonly reason: string };

export interface ParameterSpec {
  readonly name: string;
  readonly description: string;
  readonly type: 'string' | 'number' | 'boolean';
  readonly default?: string | number | boolean;
  /** @default - false */
  readonly required?: boolean;
}

export interface GeneratedSecret {
  readonly name: string;
  /** @default - 32 */
  readonly length?: number;
  /** @default - alphanumeric */
  readonly charset?: 'alphanumeric' | 'hex' | 'base64';
}

export interface AppBackup {
  /** Commands run in a service before a backup, for example a database dump. @default - none */
  readonly preHooks?: readonly BackupHook[];
  /** Commands run in a service after a backup, for example to remove the dump. @default - none */
  readonly postHooks?: readonly BackupHook[];
}

export interface BackupHook {
  readonly service: string;
  readonly command: readonly string[];
  /** The backup fails when the hook runs longer. @default - 600 */
  readonly timeoutSeconds?: number;
}

export interface UpdatePolicy {
  /** @default - stable */
  readonly channel?: 'stable' | 'beta' | 'pinned';
  /** @default - true */
  readonly backupBeforeUpdate?: boolean;
  /** Roll back when the health check fails after an update. @default - true */
  readonly rollbackOnFailedHealthCheck?: boolean;
  /** How long every service has to become healthy after an update before it counts as failed. @default - 300 */
  readonly healthTimeoutSeconds?: number;
}

export interface ExposedPort {
  readonly service: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  /** Why this cannot go through the tunnel (shown to the operator). */
  readonly reason: string;
}
