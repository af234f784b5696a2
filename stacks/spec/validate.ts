/**
 * The box spec validator: the shape first (types, unknown fields, patterns), then the rules
 * that relate fields to each other (references, duplicates, placement, domain). Every problem
 * is reported at once, each with its path; nothing here touches Pulumi.
 */
import { loadGoldenTemplate, type GoldenTemplate } from '../../templates/lib/golden.js';
import { bindMountProblem, manifestVolume, parameterValueProblems } from '../../templates/lib/app-instance.js';
import type { AppManifest } from '../../templates/lib/manifest.js';
import { isPlainObject, joinPath, repeats } from '../../templates/lib/problems.js';
import { unknownAdvisoryRules } from '../../policies/rule-names.js';
import { hasRetention } from '../../components/rules/backup-job.js';
import { inDomain } from '../../policies/resources.js';
import { componentProblems } from './component-checks.js';
import { checkShape, type Problem } from './shape.js';
import { boxSpecShape } from './schema.js';
import type { AppSpec, BoxSpec, GuestSpec, StorageSpec } from './types.js';

export type { Problem } from './shape.js';

/** Looks an app template up in the catalog; undefined when there is no such app. */
export type CatalogLookup = (template: string) => AppManifest | undefined;

export type Validation = { ok: true; spec: BoxSpec } | { ok: false; problems: Problem[] };

export interface ValidateOptions {
  /** The app catalog. @default - no catalog: app templates and parameters are not checked */
  readonly catalog?: CatalogLookup;
  /** The golden LXC template the guests are built from. @default - templates/lxc/golden.yml */
  readonly golden?: GoldenTemplate;
}

let defaultGolden: GoldenTemplate | undefined;

/**
 * Validates a parsed document; `ok` only when there is no problem at all. Three passes, every
 * problem of each reported: the shape; the rules relating fields (run on whatever parts are
 * well-shaped, so one type error never hides a reference error); and, on a well-shaped spec,
 * the components' own argument rules on the arguments `plan` would build. A problem at or
 * under a path that already has one is left out, so one mistake is reported once.
 */
export function validateBoxSpec(value: unknown, options: ValidateOptions = {}): Validation {
  const problems: Problem[] = [];
  checkShape(value, boxSpecShape, '', problems);
  const shapeValid = problems.length === 0;
  if (isPlainObject(value) && isPlainObject(value.spec)) {
    const spec = value as unknown as BoxSpec;
    for (const rule of crossFieldRules) {
      try {
        addUncovered(problems, rule(spec, options));
      } catch {
        // The rule met a part the shape pass already reported as malformed.
      }
    }
  }
  if (shapeValid) {
    const spec = value as BoxSpec;
    const golden = options.golden ?? (defaultGolden ??= loadGoldenTemplate());
    const withoutCatalog = { ...spec, spec: { ...spec.spec, apps: [] } };
    addUncovered(problems, componentProblems(options.catalog ? spec : withoutCatalog, options.catalog ?? (() => undefined), golden));
  }
  return problems.length === 0 ? { ok: true, spec: value as BoxSpec } : { ok: false, problems };
}

/** Adds each problem whose path is not already covered by an earlier problem at it or above it. */
function addUncovered(problems: Problem[], found: readonly Problem[]): void {
  for (const problem of found) {
    const covered = problems.some((earlier) => earlier.path !== '' && (problem.path === earlier.path || problem.path.startsWith(`${earlier.path}.`) || problem.path.startsWith(`${earlier.path}[`)));
    if (!covered) problems.push(problem);
  }
}

type Rule = (spec: BoxSpec, options: ValidateOptions) => Problem[];

/** Reports each value seen before, at the path of its second and later occurrences. */
function duplicates<T>(items: readonly T[], key: (item: T) => string | number, path: (index: number) => string, what: string): Problem[] {
  return repeats(items, key).map(({ index, first, key: value }) => ({ path: path(index), message: `duplicate ${what} ${JSON.stringify(value)}, already used at index ${first}` }));
}

const storagesOf = (spec: BoxSpec): readonly StorageSpec[] => spec.spec.storage ?? [];
const appsOf = (spec: BoxSpec): readonly AppSpec[] => spec.spec.apps ?? [];

const crossFieldRules: readonly Rule[] = [
  // Names and ids that Proxmox, Docker or DNS require to be unique.
  (spec) => duplicates(spec.spec.guests, (guest) => guest.name, (i) => `spec.guests[${i}].name`, 'guest name'),
  (spec) => duplicates(spec.spec.guests, (guest) => guest.vmId, (i) => `spec.guests[${i}].vmId`, 'VM id'),
  (spec) => duplicates(storagesOf(spec), (storage) => storage.name, (i) => `spec.storage[${i}].name`, 'storage name'),
  (spec) => duplicates(spec.spec.backup.jobs, (job) => job.name, (i) => `spec.backup.jobs[${i}].name`, 'backup job name'),
  (spec) => duplicates(appsOf(spec), (app) => app.name, (i) => `spec.apps[${i}].name`, 'app name'),
  (spec) => duplicates(storagesOf(spec), (storage) => identityKey(storage), (i) => `spec.storage[${i}].identity`, 'storage identity'),

  // Operator-managed custody says, in the signed spec, whose keys can open the customer's backups.
  (spec) => {
    const { keyCustody, keyCustodyOperators } = spec.spec.backup;
    if (keyCustody === 'operator-managed' && !keyCustodyOperators) return [{ path: 'spec.backup.keyCustodyOperators', message: 'operator-managed key custody names the operator keys that can unwrap the key (their OpenPGP fingerprints)' }];
    if (keyCustody !== 'operator-managed' && keyCustodyOperators) return [{ path: 'spec.backup.keyCustodyOperators', message: `${keyCustody ?? 'zero-knowledge-escrow'} key custody gives no operator a way in; name operator keys only with operator-managed` }];
    return [];
  },

  // Storage names must not shadow the host's own storages.
  (spec) => {
    const reserved = new Set([spec.spec.host.rootStorage ?? 'local-lvm', spec.spec.host.templateStorage ?? 'local', 'rootfs']);
    return storagesOf(spec).flatMap((storage, i) =>
      reserved.has(storage.name) ? [{ path: `spec.storage[${i}].name`, message: `"${storage.name}" is the host's own storage or reserved; choose another name` }] : [],
    );
  },

  // Roles that only make sense for some storages.
  (spec) =>
    storagesOf(spec).flatMap((storage, i) => {
      const problems: Problem[] = [];
      if (storage.roles.includes('rootfs') && storage.class !== 'fast') {
        problems.push({ path: `spec.storage[${i}].roles`, message: `a rootfs storage holds hot data and must be class fast, got class ${storage.class}` });
      }
      if (storage.type === 'pbs' && storage.roles.some((role) => role !== 'backup')) {
        problems.push({ path: `spec.storage[${i}].roles`, message: 'a pbs storage can only have the backup role' });
      }
      return problems;
    }),

  // Guests: static addressing needs a gateway; mounts reference bulk storages.
  (spec) =>
    spec.spec.guests.flatMap((guest, g) => {
      const problems: Problem[] = [];
      const ipv4 = guest.network?.ipv4 ?? 'dhcp';
      if (ipv4 !== 'dhcp' && !guest.network?.gateway) {
        problems.push({ path: `spec.guests[${g}].network.gateway`, message: `required with the static address ${ipv4}` });
      }
      (guest.mounts ?? []).forEach((mount, m) => {
        const storage = storagesOf(spec).find((candidate) => candidate.name === mount.storage);
        const path = `spec.guests[${g}].mounts[${m}].storage`;
        if (!storage) problems.push({ path, message: `no storage named "${mount.storage}" in spec.storage` });
        else if (!storage.roles.includes('bulk')) problems.push({ path, message: `storage "${mount.storage}" has no bulk role (roles: ${storage.roles.join(', ')})` });
      });
      problems.push(...duplicates(guest.mounts ?? [], (mount) => mount.storage, (m) => `spec.guests[${g}].mounts[${m}].storage`, 'mount of storage'));
      return problems;
    }),

  // Backup jobs and the bulk backup reference existing backup storages and guests.
  (spec) => {
    const problems: Problem[] = [];
    const checkBackupStorage = (name: string, path: string) => {
      const storage = storagesOf(spec).find((candidate) => candidate.name === name);
      if (!storage) problems.push({ path, message: `no storage named "${name}" in spec.storage` });
      else if (!storage.roles.includes('backup')) problems.push({ path, message: `storage "${name}" has no backup role (roles: ${storage.roles.join(', ')})` });
    };
    spec.spec.backup.jobs.forEach((job, j) => {
      checkBackupStorage(job.storage, `spec.backup.jobs[${j}].storage`);
      (job.guests ?? []).forEach((guest, g) => {
        if (!spec.spec.guests.some((candidate) => candidate.name === guest)) {
          problems.push({ path: `spec.backup.jobs[${j}].guests[${g}]`, message: `no guest named "${guest}" in spec.guests` });
        }
      });
      if (!hasRetention(job.retention)) {
        problems.push({ path: `spec.backup.jobs[${j}].retention`, message: 'expected at least one keep-* value above 0: a schedule without retention fills the storage' });
      }
    });
    const bulk = spec.spec.backup.bulk;
    if (bulk) {
      checkBackupStorage(bulk.storage, 'spec.backup.bulk.storage');
      // The bulk backup copies the bulk volumes; a copy on the disk it copies is lost with it.
      const target = storagesOf(spec).find((candidate) => candidate.name === bulk.storage);
      if (target?.roles.includes('bulk')) {
        problems.push({ path: 'spec.backup.bulk.storage', message: `storage "${bulk.storage}" holds bulk volumes itself (roles: ${target.roles.join(', ')}); back the bulk data up onto another storage` });
      }
      if (!hasRetention(bulk.retention)) {
        problems.push({ path: 'spec.backup.bulk.retention', message: 'expected at least one keep-* value above 0' });
      }
    }
    return problems;
  },

  // Hostnames: inside the customer domain and not shared.
  (spec) => {
    const problems: Problem[] = [];
    const domain = spec.spec.domain;
    const controller = spec.spec.edge.controllerHostname;
    if (controller && !inDomain(controller, domain)) {
      problems.push({ path: 'spec.edge.controllerHostname', message: `"${controller}" is outside the customer domain ${domain}` });
    }
    appsOf(spec).forEach((app, a) => {
      if (app.hostname && !inDomain(app.hostname, domain)) {
        problems.push({ path: `spec.apps[${a}].hostname`, message: `"${app.hostname}" is outside the customer domain ${domain}` });
      }
    });
    (spec.spec.edge.geo?.exemptHostnames ?? []).forEach((hostname, h) => {
      if (!inDomain(hostname, domain)) problems.push({ path: `spec.edge.geo.exemptHostnames[${h}]`, message: `"${hostname}" is outside the customer domain ${domain}` });
    });
    const all = [
      { hostname: controller ?? `controller.${domain}`, path: 'spec.edge.controllerHostname' },
      ...appsOf(spec).map((app, a) => ({ hostname: app.hostname ?? `${app.name}.${domain}`, path: `spec.apps[${a}].hostname` })),
    ];
    problems.push(...duplicates(all, (entry) => entry.hostname, (i) => all[i]!.path, 'hostname'));
    return problems;
  },

  // Apps: guest, template, parameters and volume placement.
  (spec, options) =>
    appsOf(spec).flatMap((app, a) => {
      const problems: Problem[] = [];
      const guest = app.guest ? spec.spec.guests.find((candidate) => candidate.name === app.guest) : spec.spec.guests[0];
      if (!guest) problems.push({ path: `spec.apps[${a}].guest`, message: `no guest named "${app.guest}" in spec.guests` });
      if (!options.catalog) return problems;
      const manifest = options.catalog(app.template);
      if (!manifest) {
        problems.push({ path: `spec.apps[${a}].template`, message: `unknown app template "${app.template}"; see felhom catalog list` });
        return problems;
      }
      problems.push(...checkParameters(app, manifest, a));
      if (guest) problems.push(...checkPlacement(spec, app, manifest, guest, a));
      return problems;
    }),

  // Guests: room for their apps (each manifest's minMemoryMiB), with the golden default when unset.
  (spec, options) => {
    if (!options.catalog) return [];
    const golden = options.golden ?? (defaultGolden ??= loadGoldenTemplate());
    return spec.spec.guests.flatMap((guest, g) => {
      const apps = appsOf(spec).filter((app) => (app.guest ?? spec.spec.guests[0]!.name) === guest.name);
      const needed = apps.map((app) => ({ app, minimum: options.catalog!(app.template)?.minMemoryMiB ?? 0 })).filter((entry) => entry.minimum > 0);
      const total = needed.reduce((sum, entry) => sum + entry.minimum, 0);
      const memory = guest.memoryMiB ?? golden.sizing.memoryMiB;
      if (total <= memory) return [];
      return [{
        path: `spec.guests[${g}].memoryMiB`,
        message: `${memory} MiB${guest.memoryMiB === undefined ? ' (the default)' : ''} is less than the ${total} MiB its apps need at least (${needed.map((entry) => `${entry.app.name} ${entry.minimum}`).join(', ')})`,
      }];
    });
  },

  // Policy settings: every advisory entry names a rule (the same check the policy host makes).
  (spec) => unknownAdvisoryRules(spec.spec.policy?.advisory ?? []),
];

/**
 * What makes two storages the same, compared as the systems compare them: UUIDs, host names and
 * SMB shares ignore case; an NFS export path does not.
 */
function identityKey(storage: StorageSpec): string {
  if (storage.type === 'pbs') return `pbs:${storage.identity.server.toLowerCase()}/${storage.identity.datastore.toLowerCase()}/${storage.namespace ?? ''}`;
  if (storage.type === 'nfs') {
    const [server, ...path] = storage.identity.split(':');
    return `nfs:${server!.toLowerCase()}:${path.join(':').replace(/\/+$/, '')}`;
  }
  return `${storage.type}:${storage.identity.toLowerCase()}`;
}

function checkParameters(app: AppSpec, manifest: AppManifest, a: number): Problem[] {
  return parameterValueProblems(manifest, app.parameters).map((problem) => ({ ...problem, path: joinPath(`spec.apps[${a}].parameters`, problem.path) }));
}

function checkPlacement(spec: BoxSpec, app: AppSpec, manifest: AppManifest, guest: GuestSpec, a: number): Problem[] {
  const problems: Problem[] = [];
  for (const [volumeName, placement] of Object.entries(app.volumes ?? {})) {
    const path = `spec.apps[${a}].volumes.${volumeName}.storage`;
    const volume = manifestVolume(manifest, volumeName);
    if (typeof volume === 'string') {
      problems.push({ path: `spec.apps[${a}].volumes.${volumeName}`, message: volume });
      continue;
    }
    if (placement.storage === 'rootfs') continue; // the guest's root filesystem is fast storage
    const storage = (spec.spec.storage ?? []).find((candidate) => candidate.name === placement.storage);
    if (!storage) {
      problems.push({ path, message: `no storage named "${placement.storage}" in spec.storage` });
    } else if (volume.class === 'bulk' && !storage.roles.includes('bulk')) {
      problems.push({ path, message: `bulk volume "${volumeName}" placed on storage "${storage.name}", which has no bulk role (roles: ${storage.roles.join(', ')})` });
    } else if (volume.class === 'hot') {
      // Anything but rootfs becomes a bind mount on a bulk mount point, outside the guest backup.
      problems.push({ path, message: bindMountProblem(volume, `"${storage.name}"`)! });
    } else if (!(guest.mounts ?? []).some((mount) => mount.storage === storage.name)) {
      problems.push({ path, message: `storage "${storage.name}" is not mounted in guest "${guest.name}"; add it to spec.guests[].mounts` });
    }
  }
  return problems;
}
