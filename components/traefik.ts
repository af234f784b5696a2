/**
 * The guest's reverse proxy: Traefik on the guest's Docker, routing each app's hostname to its
 * HTTP entry service (Cloudflare Tunnel → Traefik → app, docs/architecture.md#trust-boundaries). `cloudflared` on the
 * Proxmox host reaches it at `http://<guest ip>:<httpPort>`; TLS ends at Cloudflare's edge.
 *
 * Only containers labelled `traefik.enable=true` are routed (`exposedByDefault=false`), and
 * Traefik only sees containers on its own network, which AppStack attaches to the entry
 * service alone: a database is never reachable from the tunnel.
 */
import * as pulumi from '@pulumi/pulumi';
import * as docker from '@pulumi/docker';
import { assertValidArgs, integerBetween, isAbsolutePath, nonEmpty, shown, type Rule } from './validation.js';

export const TRAEFIK_TYPE = 'felhom:guest:Traefik';

/** The Traefik image Felhom has tested; a minor-version tag, pinned further by `digest`. */
export const DEFAULT_TRAEFIK_IMAGE = 'traefik:v3.5';

export interface TraefikArgs {
  /** Image reference with tag. @default - traefik:v3.5 */
  readonly image?: string;
  /** `sha256:…` digest pinning the image. @default - none: pinned by tag only */
  readonly digest?: string;
  /** The Docker network Traefik watches and apps' entry services join. @default - traefik */
  readonly networkName?: string;
  /** The guest port `cloudflared` targets. @default - 80 */
  readonly httpPort?: number;
  /** The entrypoint name AppStack routers use. @default - web */
  readonly entrypoint?: string;
  /** The Docker socket inside the guest, mounted read-only. @default - /var/run/docker.sock */
  readonly dockerSocket?: string;
  /** Memory limit in MiB. @default - 256 */
  readonly memoryMiB?: number;
  /** Traefik log level. @default - INFO */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

/** The argument rules of {@link Traefik}. */
export const traefikRules: readonly Rule<TraefikArgs>[] = [
  {
    field: 'image',
    check: (a) => (a.image === undefined || /^([a-z0-9.-]+(:\d+)?\/)?[a-z0-9./_-]+(:[A-Za-z0-9._-]+)$/.test(a.image) ? undefined : `expected an image reference with a tag such as "traefik:v3.5", got ${shown(a.image)}`),
  },
  { field: 'digest', check: (a) => (a.digest === undefined || /^sha256:[0-9a-f]{64}$/.test(a.digest) ? undefined : `expected sha256:<64 hex>, got ${shown(a.digest)}`) },
  { field: 'networkName', check: (a) => (a.networkName === undefined ? undefined : nonEmpty(a.networkName, 'a Docker network name')) },
  { field: 'httpPort', check: (a) => (a.httpPort === undefined ? undefined : integerBetween(a.httpPort, 1, 65_535)) },
  { field: 'entrypoint', check: (a) => (a.entrypoint === undefined || /^[a-z][a-z0-9-]*$/i.test(a.entrypoint) ? undefined : `expected an entrypoint name such as "web", got ${shown(a.entrypoint)}`) },
  { field: 'dockerSocket', check: (a) => (a.dockerSocket === undefined || isAbsolutePath(a.dockerSocket) ? undefined : `expected an absolute socket path, got ${shown(a.dockerSocket)}`) },
  { field: 'memoryMiB', check: (a) => (a.memoryMiB === undefined ? undefined : integerBetween(a.memoryMiB, 64, 65_536, 'MiB')) },
];

/** Traefik's static configuration as command-line flags. */
export function traefikCommand(args: { networkName: string; entrypoint: string; logLevel: string }): string[] {
  return [
    '--providers.docker=true',
    '--providers.docker.exposedByDefault=false',
    `--providers.docker.network=${args.networkName}`,
    // Traefik listens on :80 inside its container; the guest port is the published one.
    `--entryPoints.${args.entrypoint}.address=:80`,
    '--ping=true',
    `--log.level=${args.logLevel}`,
    '--api.dashboard=false',
    '--global.sendAnonymousUsage=false',
    '--global.checkNewVersion=false',
  ];
}

/**
 * The reverse proxy. Children: `<name>-network` (docker Network), `<name>-image`
 * (docker RemoteImage), `<name>-container` (docker Container `traefik`).
 */
export class Traefik extends pulumi.ComponentResource {
  /** The network apps' entry services join. */
  readonly networkName: pulumi.Output<string>;
  /** The guest port the tunnel targets. */
  readonly httpPort: pulumi.Output<number>;
  readonly entrypoint: pulumi.Output<string>;

  constructor(name: string, args: TraefikArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    assertValidArgs(TRAEFIK_TYPE, name, traefikRules, args);
    super(TRAEFIK_TYPE, name, {}, opts);

    const networkName = args.networkName ?? 'traefik';
    const entrypoint = args.entrypoint ?? 'web';
    const httpPort = args.httpPort ?? 80;
    const imageName = args.image ?? DEFAULT_TRAEFIK_IMAGE;

    const network = new docker.Network(`${name}-network`, { name: networkName, labels: [{ label: 'felhom.role', value: 'traefik' }] }, { parent: this });
    const image = new docker.RemoteImage(
      `${name}-image`,
      // The tag goes, a registry's port stays: `127.0.0.1:5000/traefik:v3` → `127.0.0.1:5000/traefik@sha256:…`.
      { name: args.digest ? `${imageName.replace(/:[^:/]+$/, '')}@${args.digest}` : imageName, keepLocally: true },
      { parent: this },
    );
    new docker.Container(
      `${name}-container`,
      {
        name: 'traefik',
        image: image.imageId,
        restart: 'unless-stopped',
        command: traefikCommand({ networkName, entrypoint, logLevel: args.logLevel ?? 'INFO' }),
        ports: [{ internal: 80, external: httpPort, protocol: 'tcp' }],
        networksAdvanced: [{ name: network.name }],
        // Read-only: Traefik only watches container events and labels.
        volumes: [{ hostPath: args.dockerSocket ?? '/var/run/docker.sock', containerPath: '/var/run/docker.sock', readOnly: true }],
        healthcheck: { tests: ['CMD', 'traefik', 'healthcheck', '--ping'], interval: '10s', timeout: '5s', retries: 3, startPeriod: '10s' },
        memory: args.memoryMiB ?? 256,
        labels: [{ label: 'felhom.role', value: 'traefik' }],
      },
      { parent: this },
    );

    this.networkName = network.name;
    this.httpPort = pulumi.output(httpPort);
    this.entrypoint = pulumi.output(entrypoint);
    this.registerOutputs({ networkName: this.networkName, httpPort: this.httpPort, entrypoint: this.entrypoint });
  }
}
