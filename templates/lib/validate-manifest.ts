/**
 * The manifest validator: a pure function from a parsed `.felhom.yml` to every problem in it,
 * each with its path (`services[1].image: expected ...`). Unknown fields are errors, so a typo
 * never silently becomes a default. Reference: docs/catalog.md.
 */
import { dependencyOrder, formatCycle } from './dependency-order.js';
import { templateParts } from './environment-template.js';
import { MANIFEST_API_VERSION, type AppManifest, type DependencyCondition } from './manifest.js';
import { describe, DOCUMENT_PATH, isPlainObject, joinPath, ProblemList, type Problem } from './problems.js';

/**
 * Capabilities a service may add. These are Docker's default set: adding one back only undoes
 * a `cap_drop`, never grants more than a stock container has. Anything else (SYS_ADMIN,
 * NET_ADMIN, SYS_PTRACE, ...) weakens the isolation between apps that share one LXC.
 */
export const SAFE_CAPABILITIES: readonly string[] = [
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
];

/** Tags that move: a manifest pins a version, so an unattended update is a decision, not an accident. */
export const FLOATING_TAGS: readonly string[] = ['latest', 'stable', 'release', 'main', 'master', 'edge', 'nightly', 'dev', 'beta'];

const NAME = { pattern: /^[a-z0-9]+(-[a-z0-9]+)*$/, expected: 'lower-case letters, digits and dashes' };
const IDENTIFIER = { pattern: /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, expected: 'a lower-case name with dashes, starting with a letter' };
/** `registry[:port]/path/name`, lower-case, no tag and no digest. */
const IMAGE = {
  pattern: /^(?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/,
  expected: 'an image reference without tag or digest, for example ghcr.io/immich-app/immich-server',
};
const TAG = { pattern: /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, expected: 'a Docker tag' };
const DIGEST = { pattern: /^sha256:[a-f0-9]{64}$/, expected: 'sha256: followed by 64 hex digits' };
const ABSOLUTE_PATH = { pattern: /^\/(?:[^\0]*)$/, expected: 'an absolute path' };
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const URL = { pattern: /^https?:\/\/\S+$/, expected: 'an http(s) URL' };

const ROOT_FIELDS = [
  'apiVersion', 'name', 'title', 'description', 'version', 'website', 'http', 'services', 'volumes', 'parameters',
  'secrets', 'minMemoryMiB', 'backup', 'update', 'exposedPorts', 'categories', 'upstreamCompose',
] as const;
const SERVICE_FIELDS = [
  'name', 'image', 'tag', 'digest', 'environment', 'command', 'entrypoint', 'role', 'ports', 'mounts', 'healthcheck',
  'dependsOn', 'dependsOnCondition', 'capAdd', 'shmSizeMiB', 'resources', 'user', 'restart', 'tmpfs', 'readOnly', 'init',
] as const;

/** What the cross-reference checks need to know about the document's own names. */
interface Names {
  services: Map<string, { ports: Set<number>; hasHealthcheck: boolean }>;
  volumes: Set<string>;
  parameters: Set<string>;
  secrets: Set<string>;
}

/** Checks a parsed manifest; returns every problem with its path (empty when valid). */
export function validateManifest(value: unknown): Problem[] {
  const check = new ProblemList();
  const root = check.object(value, DOCUMENT_PATH, ROOT_FIELDS, ['apiVersion', 'name', 'title', 'description', 'version', 'services']);
  if (!root) return check.problems;

  if (root.apiVersion !== undefined) check.oneOf(root.apiVersion, 'apiVersion', [MANIFEST_API_VERSION]);
  if (root.name !== undefined) {
    const name = check.string(root.name, 'name', NAME);
    if (name && name.length > 40) check.add('name', `expected at most 40 characters, got ${name.length}`);
  }
  for (const field of ['title', 'description', 'version'] as const) if (root[field] !== undefined) check.string(root[field], field);
  if (root.website !== undefined) check.string(root.website, 'website', URL);
  if (root.upstreamCompose !== undefined) check.string(root.upstreamCompose, 'upstreamCompose', URL);
  if (root.categories !== undefined) {
    check.stringList(root.categories, 'categories')?.forEach((category, index) => check.string(category, joinPath('categories', index), NAME));
  }
  if (root.minMemoryMiB !== undefined) check.integer(root.minMemoryMiB, 'minMemoryMiB', { min: 64 });

  const names = collectNames(root);
  checkVolumes(check, root.volumes);
  checkParameters(check, root.parameters);
  checkSecrets(check, root.secrets);
  const mounted = new Set<string>();
  const services = root.services === undefined ? undefined : check.array(root.services, 'services', { nonEmpty: true });
  if (services) {
    check.uniqueNames(services, 'services', 'service');
    services.forEach((service, index) => checkService(check, service, joinPath('services', index), names, mounted));
    checkDependencyCycles(check, services);
  }
  // A declared volume nobody mounts is almost always a typo in a mount's `volume`.
  if (Array.isArray(root.volumes)) {
    root.volumes.forEach((volume, index) => {
      if (isPlainObject(volume) && typeof volume.name === 'string' && !mounted.has(volume.name)) {
        check.add(joinPath(joinPath('volumes', index), 'name'), `volume "${volume.name}" is not mounted by any service`);
      }
    });
  }
  checkHttp(check, root.http, names);
  checkBackup(check, root.backup, names);
  checkUpdate(check, root.update);
  checkExposedPorts(check, root.exposedPorts, names);
  return check.problems;
}

function collectNames(root: Record<string, unknown>): Names {
  const named = (list: unknown): string[] =>
    Array.isArray(list) ? list.filter(isPlainObject).map((item) => item.name).filter((name): name is string => typeof name === 'string') : [];
  const services = new Map<string, { ports: Set<number>; hasHealthcheck: boolean }>();
  if (Array.isArray(root.services)) {
    for (const service of root.services) {
      if (!isPlainObject(service) || typeof service.name !== 'string') continue;
      const ports = Array.isArray(service.ports) ? service.ports.filter((port): port is number => typeof port === 'number') : [];
      services.set(service.name, { ports: new Set(ports), hasHealthcheck: isPlainObject(service.healthcheck) });
    }
  }
  return { services, volumes: new Set(named(root.volumes)), parameters: new Set(named(root.parameters)), secrets: new Set(named(root.secrets)) };
}

function checkService(check: ProblemList, value: unknown, path: string, names: Names, mounted: Set<string>): void {
  const service = check.object(value, path, SERVICE_FIELDS, ['name', 'image', 'tag']);
  if (!service) return;
  const at = (field: string) => joinPath(path, field);
  if (service.name !== undefined) check.string(service.name, at('name'), NAME);
  if (service.image !== undefined) {
    const image = service.image;
    if (typeof image === 'string' && /@sha256:/.test(image)) check.add(at('image'), `expected the digest in "digest", not in the image, got ${describe(image)}`);
    else if (typeof image === 'string' && (image.split('/').at(-1) ?? '').includes(':')) {
      check.add(at('image'), `expected the tag in "tag", not in the image, got ${describe(image)}`);
    } else check.string(image, at('image'), IMAGE);
  }
  if (service.tag !== undefined) {
    const tag = check.string(service.tag, at('tag'), TAG);
    if (tag && FLOATING_TAGS.includes(tag.toLowerCase())) check.add(at('tag'), `expected a pinned version, got the floating tag "${tag}"`);
  }
  if (service.digest !== undefined) check.string(service.digest, at('digest'), DIGEST);
  if (service.environment !== undefined) checkEnvironment(check, service.environment, at('environment'), names);
  if (service.command !== undefined) check.stringList(service.command, at('command'), { nonEmpty: true });
  if (service.entrypoint !== undefined) check.stringList(service.entrypoint, at('entrypoint'), { nonEmpty: true });
  if (service.role !== undefined) check.oneOf(service.role, at('role'), ['app', 'worker', 'database', 'cache']);
  if (service.ports !== undefined) {
    const ports = check.array(service.ports, at('ports'));
    const seen = new Set<number>();
    ports?.forEach((port, index) => {
      const number = check.integer(port, joinPath(at('ports'), index), { min: 1, max: 65535 });
      if (number !== undefined && seen.has(number)) check.add(joinPath(at('ports'), index), `duplicate port ${number}`);
      if (number !== undefined) seen.add(number);
    });
  }
  if (service.mounts !== undefined) {
    const mounts = check.array(service.mounts, at('mounts'));
    const paths = new Set<string>();
    mounts?.forEach((mount, index) => {
      const mountPath = joinPath(at('mounts'), index);
      const entry = check.object(mount, mountPath, ['volume', 'path', 'readOnly'], ['volume', 'path']);
      if (!entry) return;
      const volume = entry.volume === undefined ? undefined : check.string(entry.volume, joinPath(mountPath, 'volume'));
      if (volume !== undefined) {
        mounted.add(volume);
        if (!names.volumes.has(volume)) check.add(joinPath(mountPath, 'volume'), `expected a volume declared in volumes, got "${volume}"`);
      }
      const target = entry.path === undefined ? undefined : check.string(entry.path, joinPath(mountPath, 'path'), ABSOLUTE_PATH);
      if (target !== undefined) {
        if (target === '/') check.add(joinPath(mountPath, 'path'), 'a volume cannot be mounted over the container root');
        if (paths.has(target)) check.add(joinPath(mountPath, 'path'), `duplicate mount path ${target}`);
        paths.add(target);
      }
      if (entry.readOnly !== undefined) check.boolean(entry.readOnly, joinPath(mountPath, 'readOnly'));
    });
  }
  if (service.healthcheck !== undefined) checkHealthcheck(check, service.healthcheck, at('healthcheck'));
  const ownName = typeof service.name === 'string' ? service.name : undefined;
  const dependsOn = service.dependsOn === undefined ? undefined : check.stringList(service.dependsOn, at('dependsOn'));
  dependsOn?.forEach((dependency, index) => {
    if (dependency === ownName) check.add(joinPath(at('dependsOn'), index), 'a service cannot depend on itself');
    else if (!names.services.has(dependency)) check.add(joinPath(at('dependsOn'), index), `expected a service of this manifest, got "${dependency}"`);
  });
  if (service.dependsOnCondition !== undefined) {
    const conditions = check.object(service.dependsOnCondition, at('dependsOnCondition'), dependsOn ?? [], []);
    for (const [dependency, condition] of Object.entries(conditions ?? {})) {
      if (!(dependsOn ?? []).includes(dependency)) continue; // already reported as an unknown field
      const problem = dependencyConditionProblem(condition, dependency, names.services.get(dependency)?.hasHealthcheck !== false);
      if (problem) check.add(joinPath(at('dependsOnCondition'), dependency), problem);
    }
  }
  if (service.capAdd !== undefined) {
    check.stringList(service.capAdd, at('capAdd'))?.forEach((capability, index) => {
      const normalized = capability.replace(/^CAP_/, '').toUpperCase();
      if (!SAFE_CAPABILITIES.includes(normalized)) {
        check.add(joinPath(at('capAdd'), index), `capability ${capability} is not on the safe list (${SAFE_CAPABILITIES.join(', ')})`);
      }
    });
  }
  if (service.shmSizeMiB !== undefined) check.integer(service.shmSizeMiB, at('shmSizeMiB'), { min: 1, max: 65536 });
  if (service.resources !== undefined) {
    const resources = check.object(service.resources, at('resources'), ['memoryMiB', 'memoryReservationMiB', 'cpus']);
    if (resources) {
      const limit = resources.memoryMiB === undefined ? undefined : check.integer(resources.memoryMiB, joinPath(at('resources'), 'memoryMiB'), { min: 16 });
      const reservation = resources.memoryReservationMiB === undefined ? undefined : check.integer(resources.memoryReservationMiB, joinPath(at('resources'), 'memoryReservationMiB'), { min: 16 });
      if (limit !== undefined && reservation !== undefined && reservation > limit) {
        check.add(joinPath(at('resources'), 'memoryReservationMiB'), `expected at most the limit (${limit}), got ${reservation}`);
      }
      if (resources.cpus !== undefined) check.number(resources.cpus, joinPath(at('resources'), 'cpus'), { exclusiveMin: 0, max: 128 });
    }
  }
  if (service.user !== undefined) check.string(service.user, at('user'), { pattern: /^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/, expected: 'uid[:gid] or a user name' });
  if (service.restart !== undefined) check.oneOf(service.restart, at('restart'), ['no', 'always', 'unless-stopped', 'on-failure']);
  if (service.readOnly !== undefined) check.boolean(service.readOnly, at('readOnly'));
  if (service.init !== undefined) check.boolean(service.init, at('init'));
  if (service.tmpfs !== undefined) {
    const tmpfs = check.object(service.tmpfs, at('tmpfs'), Object.keys(isPlainObject(service.tmpfs) ? service.tmpfs : {}));
    for (const [target, size] of Object.entries(tmpfs ?? {})) {
      if (!target.startsWith('/')) check.add(joinPath(at('tmpfs'), target), 'expected an absolute path as the key');
      check.integer(size, joinPath(at('tmpfs'), target), { min: 1 });
    }
  }
}

/** The `dependsOnCondition` values the platform can honour (docs/catalog.md). */
export const SUPPORTED_CONDITIONS: readonly DependencyCondition[] = ['service_started', 'service_healthy'];

/**
 * Why a dependency condition cannot be honoured, or undefined: the one rule the catalog
 * validator and the AppStack component both apply. `service_healthy` needs a health check on
 * the dependency; `service_completed_successfully` is refused, because the docker provider does
 * not fail a deploy on a one-shot container's non-zero exit code.
 */
export function dependencyConditionProblem(condition: unknown, dependency: string, dependencyHasHealthcheck: boolean): string | undefined {
  if (condition === 'service_completed_successfully') {
    return "service_completed_successfully is not supported (a one-shot container's exit code cannot fail a deploy); expected service_started or service_healthy";
  }
  if (typeof condition !== 'string' || !(SUPPORTED_CONDITIONS as readonly string[]).includes(condition)) return `expected service_started or service_healthy, got ${describe(condition)}`;
  if (condition === 'service_healthy' && !dependencyHasHealthcheck) return `service_healthy needs a healthcheck on service "${dependency}", which has none`;
  return undefined;
}

function checkEnvironment(check: ProblemList, value: unknown, path: string, names: Names): void {
  const environment = check.object(value, path, Object.keys(isPlainObject(value) ? value : {}));
  const declared = { param: names.parameters, secret: names.secrets, service: names.services } as const;
  for (const [key, raw] of Object.entries(environment ?? {})) {
    const at = joinPath(path, key);
    if (!ENV_NAME.test(key)) check.add(at, 'expected an environment variable name (letters, digits, _)');
    if (typeof raw !== 'string') {
      check.add(at, `expected a string (quote numbers and booleans in YAML), got ${describe(raw)}`);
      continue;
    }
    const template = templateParts(raw);
    if ('problem' in template) {
      check.add(at, template.problem);
      continue;
    }
    for (const part of template.parts) {
      if (!('ref' in part) || part.ref.kind === 'app') continue;
      const { kind, name } = part.ref;
      if (!declared[kind].has(name)) check.add(at, `unknown placeholder \${${kind}.${name}}: no ${kind === 'param' ? 'parameter' : kind} named "${name}" is declared`);
    }
  }
}

function checkHealthcheck(check: ProblemList, value: unknown, path: string): void {
  const healthcheck = check.object(value, path, ['test', 'intervalSeconds', 'timeoutSeconds', 'retries', 'startPeriodSeconds'], ['test']);
  if (!healthcheck) return;
  const test = healthcheck.test === undefined ? undefined : check.stringList(healthcheck.test, joinPath(path, 'test'), { nonEmpty: true });
  if (test && !['CMD', 'CMD-SHELL'].includes(test[0]!)) check.add(joinPath(path, 'test'), `expected the first word to be CMD or CMD-SHELL, got ${describe(test[0])}`);
  if (test && test.length < 2) check.add(joinPath(path, 'test'), 'expected a command after ' + test[0]);
  for (const field of ['intervalSeconds', 'timeoutSeconds', 'startPeriodSeconds'] as const) {
    if (healthcheck[field] !== undefined) check.integer(healthcheck[field], joinPath(path, field), { min: 1, max: 3600 });
  }
  if (healthcheck.retries !== undefined) check.integer(healthcheck.retries, joinPath(path, 'retries'), { min: 1, max: 100 });
}

function checkVolumes(check: ProblemList, value: unknown): void {
  if (value === undefined) return;
  const volumes = check.array(value, 'volumes');
  if (!volumes) return;
  check.uniqueNames(volumes, 'volumes', 'volume');
  volumes.forEach((item, index) => {
    const path = joinPath('volumes', index);
    const volume = check.object(item, path, ['name', 'class', 'description', 'backup'], ['name']);
    if (!volume) return;
    if (volume.name !== undefined) check.string(volume.name, joinPath(path, 'name'), NAME);
    if (volume.class === undefined) check.add(joinPath(path, 'class'), 'volume has no class: expected "hot" (DB, config, cache) or "bulk" (media, files)');
    else check.oneOf(volume.class, joinPath(path, 'class'), ['hot', 'bulk']);
    if (volume.description !== undefined) check.string(volume.description, joinPath(path, 'description'));
    if (volume.backup === undefined) return;
    if (volume.class === 'hot') {
      check.add(joinPath(path, 'backup'), 'hot volumes are always in the guest backup; a backup policy applies to bulk volumes only');
      return;
    }
    const backup = check.object(volume.backup, joinPath(path, 'backup'), ['policy', 'reason'], ['policy']);
    if (!backup) return;
    const policy = backup.policy === undefined ? undefined : check.oneOf(backup.policy, joinPath(path, 'backup'), ['file-level', 'none']);
    if (policy === 'none') {
      if (backup.reason === undefined) check.add(joinPath(joinPath(path, 'backup'), 'reason'), 'a bulk volume that is not backed up needs the reason the customer is shown');
      else check.string(backup.reason, joinPath(joinPath(path, 'backup'), 'reason'));
    }
    if (policy === 'file-level' && backup.reason !== undefined) check.add(joinPath(joinPath(path, 'backup'), 'reason'), 'a reason is only given with policy "none"');
  });
}

function checkParameters(check: ProblemList, value: unknown): void {
  if (value === undefined) return;
  const parameters = check.array(value, 'parameters');
  if (!parameters) return;
  check.uniqueNames(parameters, 'parameters', 'parameter');
  parameters.forEach((item, index) => {
    const path = joinPath('parameters', index);
    const parameter = check.object(item, path, ['name', 'description', 'type', 'default', 'required'], ['name', 'description', 'type']);
    if (!parameter) return;
    if (parameter.name !== undefined) check.string(parameter.name, joinPath(path, 'name'), IDENTIFIER);
    if (parameter.description !== undefined) check.string(parameter.description, joinPath(path, 'description'));
    const type = parameter.type === undefined ? undefined : check.oneOf(parameter.type, joinPath(path, 'type'), ['string', 'number', 'boolean']);
    if (type && parameter.default !== undefined && typeof parameter.default !== type) {
      check.add(joinPath(path, 'default'), `expected a ${type} like the parameter's type, got ${describe(parameter.default)}`);
    }
    if (parameter.required !== undefined) check.boolean(parameter.required, joinPath(path, 'required'));
    if (parameter.required === true && parameter.default !== undefined) check.add(joinPath(path, 'required'), 'a required parameter has no default');
  });
}

function checkSecrets(check: ProblemList, value: unknown): void {
  if (value === undefined) return;
  const secrets = check.array(value, 'secrets');
  if (!secrets) return;
  check.uniqueNames(secrets, 'secrets', 'secret');
  secrets.forEach((item, index) => {
    const path = joinPath('secrets', index);
    const secret = check.object(item, path, ['name', 'length', 'charset'], ['name']);
    if (!secret) return;
    if (secret.name !== undefined) check.string(secret.name, joinPath(path, 'name'), IDENTIFIER);
    if (secret.length !== undefined) check.integer(secret.length, joinPath(path, 'length'), { min: 16, max: 256 });
    if (secret.charset !== undefined) check.oneOf(secret.charset, joinPath(path, 'charset'), ['alphanumeric', 'hex', 'base64']);
  });
}

function checkHttp(check: ProblemList, value: unknown, names: Names): void {
  if (value === undefined) return;
  const http = check.object(value, 'http', ['service', 'port', 'path'], ['service', 'port']);
  if (!http) return;
  const service = http.service === undefined ? undefined : check.string(http.service, 'http.service');
  const port = http.port === undefined ? undefined : check.integer(http.port, 'http.port', { min: 1, max: 65535 });
  if (service !== undefined && !names.services.has(service)) check.add('http.service', `expected a service of this manifest, got "${service}"`);
  else if (service !== undefined && port !== undefined && !names.services.get(service)!.ports.has(port)) {
    check.add('http.port', `service "${service}" exposes no port ${port} (its ports: ${[...names.services.get(service)!.ports].join(', ') || 'none'})`);
  }
  if (http.path !== undefined) check.string(http.path, 'http.path', { pattern: /^\/\S*$/, expected: 'a path starting with /' });
}

function checkHook(check: ProblemList, value: unknown, path: string, names: Names): void {
  const hook = check.object(value, path, ['service', 'command', 'timeoutSeconds'], ['service', 'command']);
  if (!hook) return;
  const service = hook.service === undefined ? undefined : check.string(hook.service, joinPath(path, 'service'));
  if (service !== undefined && !names.services.has(service)) check.add(joinPath(path, 'service'), `expected a service of this manifest, got "${service}"`);
  if (hook.command !== undefined) check.stringList(hook.command, joinPath(path, 'command'), { nonEmpty: true });
  if (hook.timeoutSeconds !== undefined) check.integer(hook.timeoutSeconds, joinPath(path, 'timeoutSeconds'), { min: 1, max: 86400 });
}

function checkBackup(check: ProblemList, value: unknown, names: Names): void {
  if (value === undefined) return;
  const backup = check.object(value, 'backup', ['preHooks', 'postHooks']);
  if (!backup) return;
  for (const field of ['preHooks', 'postHooks'] as const) {
    if (backup[field] === undefined) continue;
    check.array(backup[field], joinPath('backup', field))?.forEach((hook, index) => checkHook(check, hook, joinPath(joinPath('backup', field), index), names));
  }
}

function checkUpdate(check: ProblemList, value: unknown): void {
  if (value === undefined) return;
  const update = check.object(value, 'update', ['channel', 'backupBeforeUpdate', 'rollbackOnFailedHealthCheck', 'healthTimeoutSeconds']);
  if (!update) return;
  if (update.channel !== undefined) check.oneOf(update.channel, 'update.channel', ['stable', 'beta', 'pinned']);
  if (update.backupBeforeUpdate !== undefined) check.boolean(update.backupBeforeUpdate, 'update.backupBeforeUpdate');
  if (update.rollbackOnFailedHealthCheck !== undefined) check.boolean(update.rollbackOnFailedHealthCheck, 'update.rollbackOnFailedHealthCheck');
  if (update.healthTimeoutSeconds !== undefined) check.integer(update.healthTimeoutSeconds, 'update.healthTimeoutSeconds', { min: 10, max: 7200 });
}

function checkExposedPorts(check: ProblemList, value: unknown, names: Names): void {
  if (value === undefined) return;
  const ports = check.array(value, 'exposedPorts');
  const seen = new Set<string>();
  ports?.forEach((item, index) => {
    const path = joinPath('exposedPorts', index);
    const entry = check.object(item, path, ['service', 'port', 'protocol', 'reason'], ['service', 'port', 'protocol', 'reason']);
    if (!entry) return;
    const service = entry.service === undefined ? undefined : check.string(entry.service, joinPath(path, 'service'));
    const port = entry.port === undefined ? undefined : check.integer(entry.port, joinPath(path, 'port'), { min: 1, max: 65535 });
    const protocol = entry.protocol === undefined ? undefined : check.oneOf(entry.protocol, joinPath(path, 'protocol'), ['tcp', 'udp']);
    if (entry.reason !== undefined) check.string(entry.reason, joinPath(path, 'reason'));
    if (service !== undefined && !names.services.has(service)) check.add(joinPath(path, 'service'), `expected a service of this manifest, got "${service}"`);
    else if (service !== undefined && port !== undefined && !names.services.get(service)!.ports.has(port)) {
      check.add(joinPath(path, 'port'), `service "${service}" exposes no port ${port}`);
    }
    const key = `${port}/${protocol}`;
    if (port !== undefined && protocol !== undefined && seen.has(key)) check.add(path, `port ${key} is exposed twice`);
    seen.add(key);
  });
}

function checkDependencyCycles(check: ProblemList, services: readonly unknown[]): void {
  const dependents = services.flatMap((service) =>
    isPlainObject(service) && typeof service.name === 'string' && Array.isArray(service.dependsOn)
      ? [{ name: service.name, dependsOn: service.dependsOn.filter((name): name is string => typeof name === 'string') }]
      : [],
  );
  for (const cycle of dependencyOrder(dependents).cycles) {
    const index = services.findIndex((service) => isPlainObject(service) && service.name === cycle[0]);
    check.add(joinPath(joinPath('services', index), 'dependsOn'), `dependency cycle: ${formatCycle(cycle)}`);
  }
}

/** Narrows a value that {@link validateManifest} accepted. */
export function asManifest(value: unknown): AppManifest {
  return value as AppManifest;
}
