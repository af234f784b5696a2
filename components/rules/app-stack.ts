/**
 * The app stack's argument types, environment templates and rules (components/app-stack.ts):
 * pure functions that need no Pulumi runtime, so the box spec validator checks a spec with the
 * same rules the component applies. The manifest itself is checked by the catalog's one
 * validator (templates/lib/validate-manifest.ts), and parameters and placement by the rules
 * the box spec validator applies too (templates/lib/app-instance.ts): what the catalog
 * accepts, AppStack accepts.
 */
import { bindMountProblem, manifestVolume, parameterValueProblems } from '../../templates/lib/app-instance.js';
import { dependencyOrder as orderServices, formatCycle } from '../../templates/lib/dependency-order.js';
import { templateParts, type TemplatePart } from '../../templates/lib/environment-template.js';
import type { AppManifest, DependencyCondition, ServiceSpec } from '../../templates/lib/manifest.js';
import { formatProblem } from '../../templates/lib/problems.js';
import { validateManifest } from '../../templates/lib/validate-manifest.js';
import { isAbsolutePath, isHostname, nonEmpty, shown, type Rule } from '../validation.js';
import { FelhomError } from '../../lib/errors.js';

export { renderTemplate, type TemplatePart, type TemplateRef } from '../../templates/lib/environment-template.js';

export const APP_STACK_TYPE = 'felhom:guest:AppStack';

/** Where one manifest volume lives on the guest. */
export type AppVolumePlacement =
  /** A Docker named volume on the guest rootfs (fast storage, inside the guest's vzdump). */
  | { readonly kind: 'docker-volume' }
  /** A bind mount of a directory on a bulk mount point, see {@link bulkVolumeHostPath}. */
  | { readonly kind: 'bind'; readonly hostPath: string };

export type AppParameterValue = string | number | boolean;

export interface AppStackArgs {
  /** Instance name, unique on the guest; containers are `<instanceName>-<service>`. */
  readonly instanceName: string;
  /** The app's catalog manifest (`templates/apps/<app>/.felhom.yml`). */
  readonly manifest: AppManifest;
  /** The public hostname Traefik routes to the app. */
  readonly hostname: string;
  /** Values for the manifest's parameters. @default - the manifest's defaults */
  readonly parameters?: Readonly<Record<string, AppParameterValue>>;
  /** Placement per manifest volume name. @default - a Docker named volume on the guest rootfs */
  readonly placement?: Readonly<Record<string, AppVolumePlacement>>;
  /** The Docker network Traefik watches, attached to the HTTP entry service only. @default - traefik */
  readonly traefikNetwork?: string;
  /** The Traefik entrypoint the app's router listens on. @default - web */
  readonly entrypoint?: string;
}

/** Where a bulk volume lives inside the guest: `/mnt/bulk/<storage>/<instance>/<volume>`. */
export function bulkVolumeHostPath(storage: string, instanceName: string, volume: string): string {
  return `/mnt/bulk/${storage}/${instanceName}/${volume}`;
}

// ---- environment templates: ${param.x}, ${secret.x}, ${service.x}, ${app.hostname} -------------

/**
 * Splits an environment value into literals and references (the catalog's grammar,
 * templates/lib/environment-template.ts). Throws {@link TemplateError} on a `${...}` it does
 * not understand, so a typo never reaches a container as literal text.
 */
export function parseTemplate(value: string): TemplatePart[] {
  const template = templateParts(value);
  if ('problem' in template) throw new TemplateError(template.problem);
  return template.parts;
}

export class TemplateError extends FelhomError {
  constructor(message: string) {
    super('ETEMPLATE', 'generic', message, { fault: 'input' });
  }
}

/** The container name of a service: `<instance>-<service>`. */
export function containerName(instanceName: string, service: string): string {
  return `${instanceName}-${service}`;
}

/** The image reference pulled for a service: by digest where the manifest pins one. */
export function imageReference(service: Pick<ServiceSpec, 'image' | 'tag' | 'digest'>): string {
  return service.digest ? `${service.image}@${service.digest}` : `${service.image}:${service.tag}`;
}

/** The parameters after defaults: what the containers see. */
export function resolveParameters(manifest: AppManifest, given: Readonly<Record<string, AppParameterValue>> = {}): Record<string, AppParameterValue> {
  const values: Record<string, AppParameterValue> = {};
  for (const spec of manifest.parameters ?? []) {
    const value = given[spec.name] ?? spec.default;
    if (value !== undefined) values[spec.name] = value;
  }
  return values;
}

/** Traefik's Docker labels routing `hostname` to a service port. */
export function traefikLabels(router: string, hostname: string, port: number, entrypoint: string, network: string, path = '/'): Record<string, string> {
  const rule = path === '/' ? `Host(\`${hostname}\`)` : `Host(\`${hostname}\`) && PathPrefix(\`${path}\`)`;
  return {
    'traefik.enable': 'true',
    'traefik.docker.network': network,
    [`traefik.http.routers.${router}.rule`]: rule,
    [`traefik.http.routers.${router}.entrypoints`]: entrypoint,
    [`traefik.http.routers.${router}.service`]: router,
    [`traefik.http.services.${router}.loadbalancer.server.port`]: String(port),
  };
}

/**
 * Docker's form of added capabilities: `CAP_` and upper case, as the daemon stores them in
 * `HostConfig.CapAdd` (so reading the container back shows no diff), each once.
 */
export function dockerCapabilities(capAdd: readonly string[]): string[] {
  return [...new Set(capAdd.map((capability) => `CAP_${capability.toUpperCase().replace(/^CAP_/, '')}`))];
}

/** Docker's tmpfs map: container path → mount options, the manifest's MiB as `size=<n>m`. */
export function dockerTmpfs(tmpfs: Readonly<Record<string, number>>): Record<string, string> {
  return Object.fromEntries(Object.entries(tmpfs).map(([path, mib]) => [path, `size=${mib}m`]));
}

/** What each `dependsOn` entry waits for: the manifest's condition, else Compose's `service_started`. */
export function dependencyConditions(service: Pick<ServiceSpec, 'dependsOn' | 'dependsOnCondition'>): Record<string, DependencyCondition> {
  return Object.fromEntries((service.dependsOn ?? []).map((dependency) => [dependency, service.dependsOnCondition?.[dependency] ?? 'service_started']));
}

// ---- validation ---------------------------------------------------------------------------------

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Environment problems have a rule of their own, so the spec can point at the templates. */
const ENVIRONMENT_PATH = /^services\[\d+\]\.environment(\.|\[|$)/;

/** The catalog validator's problems of the manifest: the environment's, or all the others. */
function manifestProblems(a: AppStackArgs, environment: boolean): string | undefined {
  return joined(validateManifest(a.manifest).filter((problem) => ENVIRONMENT_PATH.test(problem.path) === environment).map(formatProblem));
}

function parameterProblems(a: AppStackArgs): string | undefined {
  return joined(parameterValueProblems(a.manifest, a.parameters).map(formatProblem));
}

function placementProblems(a: AppStackArgs): string[] {
  const problems: string[] = [];
  for (const [name, placement] of Object.entries(a.placement ?? {})) {
    const volume = manifestVolume(a.manifest, name);
    if (typeof volume === 'string') {
      problems.push(`${name}: ${volume}`);
      continue;
    }
    if (placement.kind === 'bind') {
      const hot = bindMountProblem(volume, shown(placement.hostPath));
      if (hot) problems.push(`${name}: ${hot}`);
      if (!isAbsolutePath(placement.hostPath) || !placement.hostPath.startsWith('/mnt/bulk/')) {
        problems.push(`${name}: expected a bind path under /mnt/bulk/<storage>/<instance>/<volume>, got ${shown(placement.hostPath)}`);
      }
    } else if (placement.kind !== 'docker-volume') {
      problems.push(`${name}: expected kind docker-volume or bind, got ${shown((placement as { kind: unknown }).kind)}`);
    }
  }
  return problems;
}

function joined(problems: string[]): string | undefined {
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** The argument rules of {@link AppStack}. */
export const appStackRules: readonly Rule<AppStackArgs>[] = [
  {
    field: 'instanceName',
    // The instance name prefixes container, network and volume names and Traefik routers.
    check: (a) => (typeof a.instanceName === 'string' && LABEL.test(a.instanceName) && a.instanceName.length <= 40 ? undefined : `expected a lower-case name of letters, digits and dashes (at most 40), got ${shown(a.instanceName)}`),
  },
  { field: 'hostname', check: (a) => (isHostname(a.hostname) ? undefined : `expected a lower-case DNS hostname such as "photos.example.com", got ${shown(a.hostname)}`) },
  { field: 'manifest', check: (a) => (typeof a.manifest === 'object' && a.manifest !== null && Array.isArray(a.manifest.services) ? manifestProblems(a, false) : `expected an app manifest, got ${shown(a.manifest)}`) },
  { field: 'manifest.services[].environment', check: (a) => (Array.isArray(a.manifest?.services) ? manifestProblems(a, true) : undefined) },
  { field: 'parameters', check: (a) => (Array.isArray(a.manifest?.services) ? parameterProblems(a) : undefined) },
  { field: 'placement', check: (a) => (Array.isArray(a.manifest?.services) ? joined(placementProblems(a)) : undefined) },
  { field: 'traefikNetwork', check: (a) => (a.traefikNetwork === undefined ? undefined : nonEmpty(a.traefikNetwork, 'a Docker network name')) },
  { field: 'entrypoint', check: (a) => (a.entrypoint === undefined || /^[a-z][a-z0-9-]*$/i.test(a.entrypoint) ? undefined : `expected a Traefik entrypoint name such as "web", got ${shown(a.entrypoint)}`) },
];

/**
 * Services ordered so each comes after the ones it depends on (manifest order otherwise);
 * throws {@link TemplateError} on a cycle, which the manifest rule reports first.
 */
export function dependencyOrder(services: readonly ServiceSpec[]): ServiceSpec[] {
  const { ordered, cycles } = orderServices(services);
  if (cycles.length > 0) throw new TemplateError(`services depend on each other in a cycle: ${formatCycle(cycles[0]!)}`);
  return ordered;
}
