/**
 * One catalog app on the guest's Docker (docs/architecture.md#customer-node, #data-placement): its own network, images pinned by digest
 * where the manifest pins them, volumes placed per volume class (hot on the guest rootfs, bulk
 * on a bulk mount point), containers with health checks, restart policy and limits, generated
 * secrets, and Traefik routing for the app's hostname.
 */
import * as pulumi from '@pulumi/pulumi';
import * as docker from '@pulumi/docker';
import * as random from '@pulumi/random';
import type { GeneratedSecret, VolumeSpec } from '../templates/lib/manifest.js';
import { assertValidArgs } from './validation.js';
import {
  APP_STACK_TYPE, appStackRules, containerName, dependencyConditions, dependencyOrder, dockerCapabilities, dockerTmpfs, imageReference,
  parseTemplate, renderTemplate, resolveParameters, traefikLabels, type AppStackArgs, type TemplateRef,
} from './rules/app-stack.js';

export * from './rules/app-stack.js';

// ---- the component ------------------------------------------------------------------------------

function seconds(value: number): string {
  return `${value}s`;
}

/**
 * A generated secret. `alphanumeric` comes from RandomPassword; `hex` and `base64` from
 * RandomBytes, cut to the requested length. Always a Pulumi secret.
 */
function generateSecret(name: string, spec: GeneratedSecret, parent: pulumi.Resource): pulumi.Output<string> {
  const length = spec.length ?? 32;
  const charset = spec.charset ?? 'alphanumeric';
  if (charset === 'alphanumeric') {
    const password = new random.RandomPassword(name, { length, special: false }, { parent });
    return pulumi.secret(password.result);
  }
  const bytes = new random.RandomBytes(name, { length: charset === 'hex' ? Math.ceil(length / 2) : Math.ceil((length * 3) / 4) }, { parent });
  return pulumi.secret((charset === 'hex' ? bytes.hex : bytes.base64).apply((text) => text.slice(0, length)));
}

/**
 * One app instance. Children, for instance `<name>`:
 * - `<name>-network`: docker Network `<instanceName>`;
 * - `<name>-secret-<secret>`: RandomPassword / RandomBytes per generated secret;
 * - `<name>-volume-<volume>`: docker Volume `<instanceName>_<volume>` per docker-volume placement
 *   (retained on delete: removing an app never deletes its data);
 * - `<name>-image-<service>`: docker RemoteImage per service;
 * - `<name>-<service>`: docker Container `<instanceName>-<service>` per service.
 */
export class AppStack extends pulumi.ComponentResource {
  /** The app's Docker network name. */
  readonly networkName: pulumi.Output<string>;
  /** Container names by service name. */
  readonly containerNames: pulumi.Output<Record<string, string>>;
  /** The app's public URL. */
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: AppStackArgs, opts?: pulumi.ComponentResourceOptions) {
    assertValidArgs(APP_STACK_TYPE, name, appStackRules, args);
    super(APP_STACK_TYPE, name, {}, opts);

    const { manifest, instanceName } = args;
    const traefikNetwork = args.traefikNetwork ?? 'traefik';
    const entrypoint = args.entrypoint ?? 'web';
    const parameters = resolveParameters(manifest, args.parameters);
    const appLabels = { 'felhom.app': manifest.name, 'felhom.instance': instanceName, 'felhom.version': manifest.version };

    const network = new docker.Network(
      `${name}-network`,
      { name: instanceName, labels: Object.entries(appLabels).map(([label, value]) => ({ label, value })) },
      { parent: this },
    );

    const secrets = new Map<string, pulumi.Output<string>>();
    for (const spec of manifest.secrets ?? []) secrets.set(spec.name, generateSecret(`${name}-secret-${spec.name}`, spec, this));

    const volumeNames = new Map<string, pulumi.Output<string>>();
    const bindPaths = new Map<string, string>();
    for (const volume of manifest.volumes ?? []) {
      const placement = args.placement?.[volume.name] ?? { kind: 'docker-volume' };
      if (placement.kind === 'bind') {
        bindPaths.set(volume.name, placement.hostPath);
        continue;
      }
      const dockerVolume = new docker.Volume(
        `${name}-volume-${volume.name}`,
        { name: `${instanceName}_${volume.name}`, labels: volumeLabels(appLabels, volume).map(([label, value]) => ({ label, value })) },
        // Removing an app from the spec must not delete the customer's data with it.
        { parent: this, retainOnDelete: true },
      );
      volumeNames.set(volume.name, dockerVolume.name);
    }

    const lookup = (ref: TemplateRef): pulumi.Input<string> => {
      switch (ref.kind) {
        case 'param':
          return String(parameters[ref.name] ?? '');
        case 'secret':
          return secrets.get(ref.name)!;
        case 'service':
          return containerName(instanceName, ref.name);
        case 'app':
          return args.hostname;
      }
    };

    const containers = new Map<string, docker.Container>();
    // Create services after the ones they depend on, so Pulumi's ordering follows the manifest.
    for (const service of dependencyOrder(manifest.services)) {
      const image = new docker.RemoteImage(
        `${name}-image-${service.name}`,
        // Keep images on delete: a rollback to the previous version needs the old image.
        { name: imageReference(service), keepLocally: true },
        { parent: this },
      );

      const envs = Object.entries(service.environment ?? {}).map(([key, value]) => environmentEntry(key, value, lookup));
      const isHttpEntry = manifest.http?.service === service.name;
      const labels: Record<string, string> = { ...appLabels, 'felhom.service': service.name };
      if (isHttpEntry && manifest.http) Object.assign(labels, traefikLabels(instanceName, args.hostname, manifest.http.port, entrypoint, traefikNetwork, manifest.http.path));

      const networks: docker.types.input.ContainerNetworksAdvanced[] = [{ name: network.name, aliases: [service.name] }];
      if (isHttpEntry) networks.push({ name: traefikNetwork });

      const healthcheck = service.healthcheck;
      const exposed = (manifest.exposedPorts ?? []).filter((port) => port.service === service.name);

      const container = new docker.Container(
        `${name}-${service.name}`,
        {
          name: containerName(instanceName, service.name),
          image: image.imageId,
          restart: service.restart ?? 'unless-stopped',
          envs,
          ...(service.command ? { command: [...service.command] } : {}),
          ...(service.entrypoint ? { entrypoints: [...service.entrypoint] } : {}),
          ...(service.user ? { user: service.user } : {}),
          labels: Object.entries(labels).map(([label, value]) => ({ label, value })),
          networksAdvanced: networks,
          volumes: (service.mounts ?? []).map((mount) =>
            bindPaths.has(mount.volume)
              ? { hostPath: bindPaths.get(mount.volume)!, containerPath: mount.path, readOnly: mount.readOnly ?? false }
              : { volumeName: volumeNames.get(mount.volume)!, containerPath: mount.path, readOnly: mount.readOnly ?? false },
          ),
          ...(healthcheck
            ? {
                healthcheck: {
                  tests: [...healthcheck.test],
                  interval: seconds(healthcheck.intervalSeconds ?? 30),
                  timeout: seconds(healthcheck.timeoutSeconds ?? 10),
                  retries: healthcheck.retries ?? 3,
                  startPeriod: seconds(healthcheck.startPeriodSeconds ?? 60),
                },
                // A deploy is done when the service is healthy: a failed check fails the update,
                // and the runner rolls the guest back (docs/architecture.md#snapshot-before-deploy).
                wait: true,
                waitTimeout: (healthcheck.startPeriodSeconds ?? 60) + (healthcheck.intervalSeconds ?? 30) * ((healthcheck.retries ?? 3) + 1),
              }
            : {}),
          ...(service.resources?.memoryMiB !== undefined ? { memory: service.resources.memoryMiB } : {}),
          ...(service.resources?.memoryReservationMiB !== undefined ? { memoryReservation: service.resources.memoryReservationMiB } : {}),
          ...(service.resources?.cpus !== undefined ? { cpus: String(service.resources.cpus) } : {}),
          ...(service.tmpfs ? { tmpfs: dockerTmpfs(service.tmpfs) } : {}),
          ...(service.readOnly ? { readOnly: true } : {}),
          ...(service.init ? { init: true } : {}),
          // The provider's shmSize is in MB and sent as ×1024×1024 bytes: the manifest's MiB as is.
          ...(service.shmSizeMiB !== undefined ? { shmSize: service.shmSizeMiB } : {}),
          ...(service.capAdd && service.capAdd.length > 0 ? { capabilities: { adds: dockerCapabilities(service.capAdd) } } : {}),
          ...(exposed.length > 0 ? { ports: exposed.map((port) => ({ internal: port.port, external: port.port, protocol: port.protocol })) } : {}),
        },
        // Every dependsOn entry orders creation and updates after the dependency's container.
        // A dependency with a health check is created with `wait: true`, so it is healthy by
        // then: that is `service_healthy` (validation makes sure the check exists).
        { parent: this, dependsOn: Object.keys(dependencyConditions(service)).map((dependency) => containers.get(dependency)!).filter(Boolean) },
      );
      containers.set(service.name, container);
    }

    this.networkName = network.name;
    this.containerNames = pulumi.output(Object.fromEntries(manifest.services.map((s) => [s.name, containerName(instanceName, s.name)])));
    this.url = pulumi.output(`https://${args.hostname}${manifest.http?.path && manifest.http.path !== '/' ? manifest.http.path : '/'}`);
    this.registerOutputs({ networkName: this.networkName, containerNames: this.containerNames, url: this.url });
  }
}

function volumeLabels(appLabels: Record<string, string>, volume: VolumeSpec): [string, string][] {
  return [...Object.entries(appLabels), ['felhom.volume', volume.name], ['felhom.volume-class', volume.class]];
}

/** `KEY=value` with references resolved; a secret when any referenced value is secret. */
function environmentEntry(key: string, value: string, lookup: (ref: TemplateRef) => pulumi.Input<string>): pulumi.Input<string> {
  const parts = parseTemplate(value);
  if (parts.every((part) => 'literal' in part || part.ref.kind !== 'secret')) {
    return `${key}=${renderTemplate(parts, (ref) => lookup(ref) as string)}`;
  }
  const inputs = parts.map((part) => ('literal' in part ? part.literal : lookup(part.ref)));
  // pulumi.all keeps secretness; pulumi.secret makes it explicit for readers and for the mock.
  return pulumi.secret(pulumi.all(inputs).apply((resolved) => `${key}=${resolved.join('')}`));
}

