/**
 * The app stack's argument types, environment templates and rules (components/app-stack.ts):
 * pure functions that need no Pulumi runtime, so the box spec validator checks a spec with the
 * same rules the component applies.
 */
import type { AppManifest, DependencyCondition, ServiceSpec } from '../../templates/lib/manifest.js';
import { dependencyConditionProblem, SAFE_CAPABILITIES } from '../../templates/lib/validate-manifest.js';
import { duplicates, isAbsolutePath, isHostname, isInteger, nonEmpty, shown, type Rule } from '../validation.js';
import { FelhomError } from '../../lib/errors.js';

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

export type TemplateRef = { readonly kind: 'param' | 'secret' | 'service'; readonly name: string } | { readonly kind: 'app'; readonly name: 'hostname' };
export type TemplatePart = { readonly literal: string } | { readonly ref: TemplateRef };

/** A reference, or Compose's escape `$$` (one literal `$`, so `$${x}` is the text `${x}`). */
const TEMPLATE_TOKEN = /\$\$|\$\{([a-z]+)\.([A-Za-z0-9_-]+)\}/g;

/**
 * Splits an environment value into literals and references. `$$` is a literal `$`, as in
 * Compose and the catalog's manifest validator, so `$${` writes a literal `${`. Throws on a
 * `${...}` it does not understand, so a typo never reaches a container as literal text.
 */
export function parseTemplate(value: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  const addLiteral = (text: string): void => {
    if (text === '') return;
    const previous = parts[parts.length - 1];
    if (previous && 'literal' in previous) parts[parts.length - 1] = { literal: previous.literal + text };
    else parts.push({ literal: text });
  };
  // Checked on the source text between tokens: an escaped `$${` must not count as malformed.
  const addSource = (text: string): void => {
    if (text.includes('${')) throw new TemplateError(`malformed reference in ${shown(value)}: expected \${<kind>.<name>}, or $\${ for a literal \${`);
    addLiteral(text);
  };
  let last = 0;
  for (const match of value.matchAll(TEMPLATE_TOKEN)) {
    const [whole, kind, name] = match as unknown as [string, string | undefined, string | undefined];
    addSource(value.slice(last, match.index));
    last = match.index + whole.length;
    if (whole === '$$') addLiteral('$');
    else if (kind === 'param' || kind === 'secret' || kind === 'service') parts.push({ ref: { kind, name: name! } });
    else if (kind === 'app' && name === 'hostname') parts.push({ ref: { kind: 'app', name: 'hostname' } });
    else throw new TemplateError(`unknown reference \${${kind}.${name}}: expected \${param.<name>}, \${secret.<name>}, \${service.<name>} or \${app.hostname}`);
  }
  addSource(value.slice(last));
  return parts;
}

export class TemplateError extends FelhomError {
  constructor(message: string) {
    super('ETEMPLATE', 'generic', message, { fault: 'input' });
  }
}

/** Joins parsed parts, resolving each reference with `lookup`. */
export function renderTemplate(parts: readonly TemplatePart[], lookup: (ref: TemplateRef) => string): string {
  return parts.map((part) => ('literal' in part ? part.literal : lookup(part.ref))).join('');
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
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function templateProblems(a: AppStackArgs): string[] {
  const problems: string[] = [];
  const params = new Set((a.manifest.parameters ?? []).map((p) => p.name));
  const secrets = new Set((a.manifest.secrets ?? []).map((s) => s.name));
  const services = new Set(a.manifest.services.map((s) => s.name));
  for (const service of a.manifest.services) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      const where = `services.${service.name}.environment.${key}`;
      let parts: TemplatePart[];
      try {
        parts = parseTemplate(value);
      } catch (error) {
        problems.push(`${where}: ${(error as Error).message}`);
        continue;
      }
      for (const part of parts) {
        if (!('ref' in part)) continue;
        const { kind, name } = part.ref;
        const known = kind === 'param' ? params : kind === 'secret' ? secrets : kind === 'service' ? services : undefined;
        if (known && !known.has(name)) problems.push(`${where}: \${${kind}.${name}} names no ${kind} of the manifest (expected one of ${shown([...known])})`);
      }
    }
  }
  return problems;
}

function parameterProblems(a: AppStackArgs): string[] {
  const problems: string[] = [];
  const specs = new Map((a.manifest.parameters ?? []).map((p) => [p.name, p]));
  for (const [name, value] of Object.entries(a.parameters ?? {})) {
    const spec = specs.get(name);
    if (!spec) problems.push(`${name}: the manifest declares no such parameter (expected one of ${shown([...specs.keys()])})`);
    else if (typeof value !== spec.type) problems.push(`${name}: expected a ${spec.type}, got ${shown(value)}`);
  }
  for (const spec of specs.values()) {
    if (spec.required && a.parameters?.[spec.name] === undefined && spec.default === undefined) problems.push(`${spec.name}: required by the manifest and not given`);
  }
  return problems;
}

function placementProblems(a: AppStackArgs): string[] {
  const problems: string[] = [];
  const volumes = new Map((a.manifest.volumes ?? []).map((v) => [v.name, v]));
  for (const [name, placement] of Object.entries(a.placement ?? {})) {
    const volume = volumes.get(name);
    if (!volume) {
      problems.push(`${name}: the manifest declares no such volume (expected one of ${shown([...volumes.keys()])})`);
      continue;
    }
    if (placement.kind === 'bind') {
      // Hot data (DB, config) must stay on the fast rootfs and inside the guest backup (docs/architecture.md#data-placement).
      if (volume.class === 'hot') problems.push(`${name}: expected a docker-volume for a hot volume (it must stay on the fast rootfs), got a bind mount`);
      if (!isAbsolutePath(placement.hostPath) || !placement.hostPath.startsWith('/mnt/bulk/')) {
        problems.push(`${name}: expected a bind path under /mnt/bulk/<storage>/<instance>/<volume>, got ${shown(placement.hostPath)}`);
      }
    } else if (placement.kind !== 'docker-volume') {
      problems.push(`${name}: expected kind docker-volume or bind, got ${shown((placement as { kind: unknown }).kind)}`);
    }
  }
  return problems;
}

function manifestProblems(a: AppStackArgs): string[] {
  const m = a.manifest;
  const problems: string[] = [];
  const services = (m.services ?? []).map((s) => s.name);
  if (services.length === 0) problems.push('services: expected at least one service, got none');
  for (const name of duplicates(services)) problems.push(`services: expected unique names, got ${shown(name)} more than once`);
  const volumes = new Set((m.volumes ?? []).map((v) => v.name));
  const secrets = (m.secrets ?? []).map((s) => s.name);
  for (const name of duplicates(secrets)) problems.push(`secrets: expected unique names, got ${shown(name)} more than once`);
  if (m.http && !services.includes(m.http.service)) problems.push(`http.service: expected one of ${shown(services)}, got ${shown(m.http.service)}`);
  for (const service of m.services ?? []) {
    if (!LABEL.test(service.name)) problems.push(`services.${service.name}: expected a lower-case name of letters, digits and dashes`);
    if (service.digest !== undefined && !DIGEST.test(service.digest)) problems.push(`services.${service.name}.digest: expected sha256:<64 hex>, got ${shown(service.digest)}`);
    for (const mount of service.mounts ?? []) {
      if (!volumes.has(mount.volume)) problems.push(`services.${service.name}.mounts: volume ${shown(mount.volume)} is not declared in the manifest's volumes`);
    }
    for (const dependency of service.dependsOn ?? []) {
      if (!services.includes(dependency)) problems.push(`services.${service.name}.dependsOn: expected one of ${shown(services)}, got ${shown(dependency)}`);
    }
    problems.push(...runtimeProblems(service), ...conditionProblems(service, m.services ?? []));
  }
  try {
    dependencyOrder(m.services ?? []);
  } catch (error) {
    problems.push(`services: ${(error as Error).message}`);
  }
  return problems;
}

/** The container-runtime fields: entrypoint, /dev/shm, capabilities, tmpfs. */
function runtimeProblems(service: ServiceSpec): string[] {
  const problems: string[] = [];
  const at = `services.${service.name}`;
  const { entrypoint, shmSizeMiB, capAdd, tmpfs } = service;
  if (entrypoint !== undefined && !(Array.isArray(entrypoint) && entrypoint.length > 0 && entrypoint.every((part) => typeof part === 'string'))) {
    problems.push(`${at}.entrypoint: expected a non-empty list of strings such as ["/cron.sh"], got ${shown(entrypoint)}`);
  }
  if (shmSizeMiB !== undefined && !(isInteger(shmSizeMiB) && shmSizeMiB >= 1)) problems.push(`${at}.shmSizeMiB: expected a whole number of MiB of at least 1, got ${shown(shmSizeMiB)}`);
  if (capAdd !== undefined) {
    // Only Docker's default set: adding one back never grants more than a stock container has.
    const unsafe = Array.isArray(capAdd) ? capAdd.filter((c) => typeof c !== 'string' || !SAFE_CAPABILITIES.includes(c.toUpperCase().replace(/^CAP_/, ''))) : [capAdd];
    if (unsafe.length > 0) problems.push(`${at}.capAdd: expected capabilities from the safe list (${SAFE_CAPABILITIES.join(', ')}), got ${shown(unsafe)}`);
  }
  for (const [path, mib] of Object.entries(tmpfs ?? {})) {
    if (!isAbsolutePath(path)) problems.push(`${at}.tmpfs: expected an absolute container path as the key, got ${shown(path)}`);
    if (!(isInteger(mib) && mib >= 1)) problems.push(`${at}.tmpfs.${path}: expected a size in whole MiB of at least 1, got ${shown(mib)}`);
  }
  return problems;
}

/**
 * `dependsOnCondition`: each entry names a `dependsOn` service. `service_healthy` needs a health
 * check on the dependency (its container is created with `wait: true`, so it is healthy before
 * the dependent is created). `service_completed_successfully` is refused: the docker provider
 * does not fail a deploy on a one-shot container's non-zero exit code.
 */
function conditionProblems(service: ServiceSpec, all: readonly ServiceSpec[]): string[] {
  const problems: string[] = [];
  const at = `services.${service.name}.dependsOnCondition`;
  for (const [dependency, condition] of Object.entries(service.dependsOnCondition ?? {})) {
    if (!(service.dependsOn ?? []).includes(dependency)) {
      problems.push(`${at}.${dependency}: expected a service listed in dependsOn (${shown(service.dependsOn ?? [])}), got ${shown(dependency)}`);
    } else {
      const problem = dependencyConditionProblem(condition, dependency, Boolean(all.find((s) => s.name === dependency)?.healthcheck));
      if (problem) problems.push(`${at}.${dependency}: ${problem.replace(`"${dependency}"`, shown(dependency))}`);
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
  { field: 'manifest', check: (a) => (typeof a.manifest === 'object' && a.manifest !== null && Array.isArray(a.manifest.services) ? joined(manifestProblems(a)) : `expected an app manifest, got ${shown(a.manifest)}`) },
  { field: 'manifest.services[].environment', check: (a) => (Array.isArray(a.manifest?.services) ? joined(templateProblems(a)) : undefined) },
  { field: 'parameters', check: (a) => (Array.isArray(a.manifest?.services) ? joined(parameterProblems(a)) : undefined) },
  { field: 'placement', check: (a) => (Array.isArray(a.manifest?.services) ? joined(placementProblems(a)) : undefined) },
  { field: 'traefikNetwork', check: (a) => (a.traefikNetwork === undefined ? undefined : nonEmpty(a.traefikNetwork, 'a Docker network name')) },
  { field: 'entrypoint', check: (a) => (a.entrypoint === undefined || /^[a-z][a-z0-9-]*$/i.test(a.entrypoint) ? undefined : `expected a Traefik entrypoint name such as "web", got ${shown(a.entrypoint)}`) },
];

/** Services ordered so each comes after the ones it depends on (manifest order otherwise). */
export function dependencyOrder(services: readonly ServiceSpec[]): ServiceSpec[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const ordered: ServiceSpec[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (service: ServiceSpec, path: string[]): void => {
    if (state.get(service.name) === 'done') return;
    if (state.get(service.name) === 'visiting') throw new TemplateError(`services depend on each other in a cycle: ${[...path, service.name].join(' → ')}`);
    state.set(service.name, 'visiting');
    for (const dependency of service.dependsOn ?? []) {
      const next = byName.get(dependency);
      if (next) visit(next, [...path, service.name]);
    }
    state.set(service.name, 'done');
    ordered.push(service);
  };
  for (const service of services) visit(service, []);
  return ordered;
}
