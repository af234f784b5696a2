/**
 * `felhom catalog import`: turns an upstream Docker Compose file into a draft `.felhom.yml`.
 *
 * Three things make this more than a format conversion:
 * - every volume is classified hot or bulk from evidence (database images, mount paths, names),
 *   and the reason is kept so the operator can confirm it;
 * - what the platform will not run (privileged, host networking, devices, unsafe capabilities,
 *   host paths such as the Docker socket) is refused, naming the service and the reason;
 * - Compose variables become manifest parameters and generated secrets instead of being
 *   resolved away, so a default password from an example .env never reaches a box.
 * Reference: docs/catalog.md#importing-a-compose-file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Document, isMap, isSeq } from 'yaml';
import { basename, dirname, posix, resolve } from 'node:path';
import type {
  AppManifest, DependencyCondition, ExposedPort, GeneratedSecret, HealthCheck, MountSpec, ParameterSpec, Resources,
  ServiceRole, ServiceSpec, VolumeClass, VolumeSpec,
} from './manifest.js';
import { MANIFEST_API_VERSION } from './manifest.js';
import { describe, DOCUMENT_PATH, formatProblem, isPlainObject, joinPath, parseYaml, type Problem } from './problems.js';
import { FLOATING_TAGS, SAFE_CAPABILITIES, validateManifest } from './validate-manifest.js';
import { interpolate, InterpolationError, parseInterpolation, type Interpolation } from './compose-interpolate.js';
import { isFlagValue, looksLikeCredential } from '../../policies/rules/no-plaintext-secrets.js';
import { FelhomError } from '../../lib/errors.js';

/** How one volume was classified, and why: printed so the operator can confirm or correct it. */
export interface VolumeClassification {
  readonly volume: string;
  readonly class: VolumeClass;
  readonly reason: string;
  /** True when no evidence pointed either way and the safe default (hot) was taken. */
  readonly needsConfirmation: boolean;
  /** Where the volume came from in the compose file: `named volume model-cache`, `bind ./library`. */
  readonly source: string;
}

export interface ImportResult {
  readonly manifest: AppManifest;
  readonly volumes: readonly VolumeClassification[];
  /** What changed on the way and what the operator should check (dropped fields, converted host paths). */
  readonly notes: readonly string[];
  /** What the draft still lacks to pass the catalog validator (for example a floating tag to pin). */
  readonly draftProblems: readonly Problem[];
}

/**
 * The compose file cannot be imported. `refusals` are the problems that name something the
 * platform will not run; the rest are input errors (unparseable file, missing env_file, ...).
 */
export class ComposeImportError extends FelhomError {
  declare readonly code: 'ECOMPOSE' | 'EREFUSED';
  readonly problems: readonly Problem[];
  readonly refusals: readonly Problem[];
  constructor(file: string, problems: readonly Problem[], refusals: readonly Problem[]) {
    const all = [...refusals, ...problems];
    super(
      refusals.length > 0 ? 'EREFUSED' : 'ECOMPOSE',
      'generic',
      refusals.length > 0
        ? `${file}: refused, the platform will not run ${refusals.length === 1 ? 'this' : 'these'} (${refusals.length} reason${refusals.length === 1 ? '' : 's'})`
        : `${file} cannot be imported (${problems.length} problem${problems.length === 1 ? '' : 's'})`,
      { fault: 'input', details: all.map(formatProblem) },
    );
    this.problems = all;
    this.refusals = refusals;
  }
}

export interface ImportOptions {
  /** Catalog name of the draft. @default - the compose file's `name:`, else its directory name */
  readonly name?: string;
}

/** Images whose volumes hold a database: always hot. */
const DATABASE_IMAGES = /(^|\/)(postgres|postgresql|pgvecto-rs|mariadb|mysql|mongo|mongodb|couchdb|influxdb|clickhouse-server|cockroach|timescaledb|postgis)([:@]|$)|immich-app\/postgres/;
/** Images whose volumes hold a cache or broker state: hot (fast storage), small. */
const CACHE_IMAGES = /(^|\/)(redis|valkey|keydb|memcached|dragonfly)([:@]|$)/;

/**
 * What particular images keep at a path, where the generic rules would guess wrong: the image
 * decides, whatever the host folder is called. Checked after the database and cache images.
 */
const IMAGE_PATHS: readonly { image: RegExp; path: string; class: VolumeClass; what: string }[] = [
  { image: /(^|\/)matrixdotorg\/synapse([:@]|$)/, path: '/data', class: 'hot', what: 'homeserver.yaml, the signing key and the SQLite database' },
  { image: /(^|\/)immich-app\/immich-server([:@]|$)/, path: '/data', class: 'bulk', what: 'the uploaded photos and videos' },
  { image: /(^|\/)immich-app\/immich-server([:@]|$)/, path: '/usr/src/app/upload', class: 'bulk', what: 'the uploaded photos and videos' },
  { image: /(^|\/)n8nio\/n8n([:@]|$)/, path: '/home/node/.n8n', class: 'hot', what: 'its encryption key and SQLite database' },
  { image: /(^|\/)vaultwarden\/server([:@]|$)/, path: '/data', class: 'hot', what: 'the vault database and its keys' },
  { image: /(^|\/)home-assistant\/home-assistant([:@]|$)|(^|\/)homeassistant\/home-assistant([:@]|$)/, path: '/config', class: 'hot', what: 'its configuration and database' },
  { image: /(^|\/)(gitea\/gitea|forgejo\/forgejo)([:@]|$)/, path: '/data', class: 'hot', what: 'the repositories, configuration and database' },
];

interface PathRule {
  readonly test: RegExp;
  readonly class: VolumeClass;
  readonly reason: (path: string) => string;
}

/** Container paths that say what a volume holds; first match wins. */
const PATH_RULES: readonly PathRule[] = [
  { test: /^\/var\/lib\/(postgresql|mysql|mariadb|mongodb|influxdb|clickhouse)(\/|$)|^\/data\/db$|^\/bitnami\/(postgresql|mysql|mariadb|mongodb)/, class: 'hot', reason: (path) => `mount path ${path} is a database data directory` },
  { test: /(^|\/)(cache|\.cache|tmp)$/, class: 'hot', reason: (path) => `mount path ${path} is a cache` },
  { test: /(^|\/)(config|conf|settings|etc)$|^\/etc\//, class: 'hot', reason: (path) => `mount path ${path} is configuration` },
  {
    // Where images keep their own state: configuration, signing keys, an SQLite database
    // (Synapse's /data holds homeserver.yaml, the signing key and homeserver.db).
    test: /(^|\/)(data|appdata|app-data|state|db|database|storage|\.[a-z0-9_-]+)$|^\/var\/lib\/[^/]+$|^\/(app|opt\/[^/]+)\/data$/,
    class: 'hot',
    reason: (path) => `mount path ${path} is where the app keeps its own state (configuration, keys, an SQLite database)`,
  },
  {
    test: /(^|\/)(media|photos?|pictures|images|videos?|movies|tv|shows|music|books|audiobooks|podcasts|comics|downloads|library|uploads?|files|documents|consume|export|originals|recordings|sync|syncthing)$/,
    class: 'bulk',
    reason: (path) => `mount path ${path} holds user media or files`,
  },
];

/** Words in a volume's own name (or its host folder / variable) that say what it holds. */
const NAME_RULES: readonly { test: RegExp; class: VolumeClass; what: string }[] = [
  { test: /(^|[-_])(db|database|postgres|pg|pgdata|mysql|mariadb|mongo|redis|valkey)([-_]|data|$)/i, class: 'hot', what: 'database data' },
  { test: /(^|[-_])(config|conf|cache)([-_]|$)/i, class: 'hot', what: 'configuration or cache' },
  { test: /(^|[-_])(media|photos?|pictures|videos?|movies|music|books|audiobooks|podcasts|downloads|library|uploads?|files|documents)([-_]|$)/i, class: 'bulk', what: 'user media or files' },
];

/** Host paths a container must never see: binding them hands the app the box. */
const FORBIDDEN_HOST_PATHS: readonly { path: string; why: string }[] = [
  { path: '/var/run/docker.sock', why: "the Docker socket gives the app root over every container and the customer LXC" },
  { path: '/run/docker.sock', why: "the Docker socket gives the app root over every container and the customer LXC" },
  { path: '/var/lib/docker', why: "Docker's own state holds every app's data" },
  { path: '/proc', why: 'host process information and kernel tunables' },
  { path: '/sys', why: 'host kernel and device interfaces' },
  { path: '/dev', why: 'host devices' },
  { path: '/run', why: 'host runtime sockets (D-Bus, systemd, Docker)' },
  { path: '/var/run', why: 'host runtime sockets (D-Bus, systemd, Docker)' },
  { path: '/etc', why: 'host configuration and credentials' },
  { path: '/root', why: "the host administrator's home" },
  { path: '/home', why: 'host user homes' },
  { path: '/boot', why: 'the host boot partition' },
  { path: '/usr', why: 'host system binaries' },
  { path: '/lib', why: 'host system libraries' },
  { path: '/bin', why: 'host system binaries' },
  { path: '/sbin', why: 'host system binaries' },
];
/** Read-only host files that only carry the time zone: dropped, TZ does the same. */
const TIMEZONE_FILES = new Set(['/etc/localtime', '/etc/timezone']);

/** A value of a Compose field the platform will not run: where under the field (an index) and why. */
export interface FieldRefusal {
  readonly at?: number;
  readonly message: string;
}

/**
 * How the importer handles one Compose service field:
 * - `translated`: becomes the manifest field(s) `into` names;
 * - `refused`: the platform will not run the service when `refuse` finds a value it names
 *   (EREFUSED, with the service and the reason); other values are left alone;
 * - `ignored`: dropped with a note saying why (the platform does this itself, or it does not apply);
 * - `unsupported`: an error naming the field (the draft could not run as written), `unless` the
 *   service says otherwise.
 * A `refuse` check may sit on any field: `cap_add` is translated, but only from the safe list.
 */
export type FieldHandling =
  | { readonly handling: 'translated'; readonly into: string; readonly refuse?: RefusalCheck }
  | { readonly handling: 'refused'; readonly when: string; readonly refuse: RefusalCheck }
  | { readonly handling: 'ignored'; readonly reason: string; readonly refuse?: RefusalCheck; readonly refusedWhen?: string }
  | { readonly handling: 'unsupported'; readonly reason: string; readonly unless?: (service: Record<string, unknown>) => boolean; readonly when?: string };

type RefusalCheck = (value: unknown, service: string) => FieldRefusal[];

/** `cap_net_bind_service` → `NET_BIND_SERVICE`: the safe list's spelling. */
function capabilityName(capability: unknown): string {
  return String(capability).toUpperCase().replace(/^CAP_/, '');
}

const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
const hostNamespace = (field: string): RefusalCheck => (value, service) => (value === 'host' ? [{ message: `service ${service} shares the host's ${field} namespace` }] : []);
const dropped = (reason: string): FieldHandling => ({ handling: 'ignored', reason });

/**
 * Every Compose service field the importer knows, and how it handles it: the one table the
 * importer's behaviour (translateService) and its report (the notes, errors and refusals, and
 * the field table in docs/catalog.md) come from. A field not in the table is dropped with a note.
 * Refusals are checked in table order.
 */
export const COMPOSE_SERVICE_FIELDS: Readonly<Record<string, FieldHandling>> = {
  privileged: {
    handling: 'refused',
    when: '`true`',
    refuse: (value, service) => (truthy(value) ? [{ message: `service ${service} runs privileged: it could reach every device and escape the customer LXC's isolation` }] : []),
  },
  network_mode: {
    handling: 'refused',
    when: '`host`, `service:...`, `container:...`',
    refuse: (value, service) =>
      value === 'host'
        ? [{ message: `service ${service} uses the host network: it would bypass the app network and Traefik; publish ports instead` }]
        : typeof value === 'string' && /^(service|container):/.test(value)
          ? [{ message: `service ${service} shares another container's network namespace (${value}), which the platform does not wire` }]
          : [],
  },
  pid: { handling: 'refused', when: '`host`', refuse: hostNamespace('pid') },
  ipc: { handling: 'refused', when: '`host`', refuse: hostNamespace('ipc') },
  userns_mode: { handling: 'refused', when: '`host`', refuse: hostNamespace('userns_mode') },
  uts: { handling: 'refused', when: '`host`', refuse: hostNamespace('uts') },
  devices: {
    handling: 'refused',
    when: 'any device',
    refuse: (value, service) =>
      listOf(value).map((device, index) => ({ at: index, message: `service ${service} needs device ${typeof device === 'string' ? device.split(':')[0] : describe(device)}; device passthrough is not available in the customer LXC` })),
  },
  cap_add: {
    handling: 'translated',
    into: '`capAdd`; a capability off the safe list is refused',
    refuse: (value, service) =>
      listOf(value).flatMap((capability, index) =>
        SAFE_CAPABILITIES.includes(capabilityName(capability))
          ? []
          : [{ at: index, message: `service ${service} adds capability ${capabilityName(capability)}, which is not on the safe list (${SAFE_CAPABILITIES.join(', ')})` }],
      ),
  },
  image: { handling: 'translated', into: '`image`, `tag`, `digest`; a database or cache image sets `role`' },
  environment: { handling: 'translated', into: '`environment`: credentials become generated secrets, placeholders required parameters, service hosts `${service.<name>}`' },
  env_file: { handling: 'translated', into: '`environment` (read next to the compose file, before `environment`)' },
  command: { handling: 'translated', into: '`command` (shell form split like Compose)' },
  entrypoint: { handling: 'translated', into: '`entrypoint` (shell form split like Compose)' },
  ports: { handling: 'translated', into: '`ports`, `http`, `exposedPorts`' },
  expose: { handling: 'translated', into: '`ports` (not published)' },
  volumes: { handling: 'translated', into: '`volumes` (classified hot or bulk), `mounts`, `tmpfs`; forbidden host paths are refused' },
  tmpfs: { handling: 'translated', into: '`tmpfs`' },
  healthcheck: { handling: 'translated', into: '`healthcheck`' },
  depends_on: { handling: 'translated', into: '`dependsOn`, `dependsOnCondition`' },
  restart: { handling: 'translated', into: '`restart`' },
  user: { handling: 'translated', into: '`user`' },
  shm_size: { handling: 'translated', into: '`shmSizeMiB`' },
  deploy: { handling: 'translated', into: '`resources` (from `deploy.resources`; the rest is for Swarm)' },
  mem_limit: { handling: 'translated', into: '`resources.memoryMiB`' },
  mem_reservation: { handling: 'translated', into: '`resources.memoryReservationMiB`' },
  cpus: { handling: 'translated', into: '`resources.cpus`' },
  init: { handling: 'translated', into: '`init`' },
  read_only: { handling: 'translated', into: '`readOnly`' },
  profiles: { handling: 'translated', into: 'a service with a profile is left out, as `docker compose up` leaves it out' },
  links: dropped('services reach each other by ${service.<name>} on the app network; links are not needed'),
  container_name: dropped('the platform names containers <app instance>-<service>'),
  hostname: dropped('services reach each other by ${service.<name>}'),
  networks: dropped('every app gets its own network, with Traefik attached'),
  labels: dropped('routing labels come from the http entry'),
  logging: dropped('the guest Docker daemon keeps bounded local logs'),
  extra_hosts: dropped('the app network resolves service names itself'),
  stop_grace_period: dropped('the platform uses Docker’s default stop timeout'),
  sysctls: dropped('host-wide kernel settings cannot be changed from inside the customer LXC'),
  ulimits: dropped('the guest Docker defaults apply'),
  platform: dropped('the guest is amd64'),
  cap_drop: dropped('capabilities are only ever added from the safe list'),
  group_add: dropped('device groups have no devices to grant in the customer LXC'),
  security_opt: {
    handling: 'ignored',
    reason: 'the platform’s default seccomp and AppArmor profiles apply',
    refusedWhen: 'it turns a profile off (`seccomp=unconfined`, `apparmor=unconfined`, `label=disable`)',
    refuse: (value, service) =>
      Array.isArray(value)
        ? value.flatMap((option, index) =>
            typeof option === 'string' && /(seccomp|apparmor)[=:]unconfined|label[=:]disable/.test(option) ? [{ at: index, message: `service ${service} turns off a security profile (${option})` }] : [],
          )
        : [],
  },
  pull_policy: dropped('images are pulled by pinned tag and digest'),
  stdin_open: dropped('apps run unattended'),
  tty: dropped('apps run unattended'),
  working_dir: dropped('the image’s working directory is used'),
  domainname: dropped('services reach each other by ${service.<name>}'),
  dns: dropped('the app network resolves names itself'),
  // Fields that would make the platform run something other than a pinned published image.
  build: { handling: 'unsupported', reason: 'the platform runs published images only; publish the image and reference it by tag', unless: (service) => typeof service.image === 'string', when: 'without `image`' },
  extends: { handling: 'unsupported', reason: 'inline the extended service: the draft must be reviewable on its own' },
  volumes_from: { handling: 'unsupported', reason: 'mount the named volumes explicitly instead' },
  external_links: { handling: 'unsupported', reason: 'apps cannot reach containers of other apps' },
  configs: { handling: 'unsupported', reason: 'put configuration in a hot volume or in the environment' },
  secrets: { handling: 'unsupported', reason: 'declare generated secrets in the manifest instead' },
  runtime: { handling: 'unsupported', reason: 'only the default runtime exists in the customer LXC' },
  cgroup_parent: { handling: 'unsupported', reason: 'the platform places every app in its own cgroup' },
};

/** Text for a Markdown table cell: pipes escaped, and `<...>` outside code spans shown, not taken for HTML. */
function markdownCell(text: string): string {
  return text
    .split('`')
    .map((part, index) => (index % 2 === 1 ? part : part.replaceAll('<', '&lt;').replaceAll('>', '&gt;')))
    .join('`')
    .replaceAll('|', '\\|');
}

/** The field table of docs/catalog.md, generated from {@link COMPOSE_SERVICE_FIELDS}. */
export function composeFieldTable(): string {
  const order = ['translated', 'refused', 'ignored', 'unsupported'] as const;
  const rows = Object.entries(COMPOSE_SERVICE_FIELDS)
    .sort(([a, x], [b, y]) => order.indexOf(x.handling) - order.indexOf(y.handling) || a.localeCompare(b))
    .map(([field, handling]) => {
      const how =
        handling.handling === 'translated' ? handling.into
        : handling.handling === 'refused' ? `refused when ${handling.when}`
        : handling.handling === 'ignored' ? `${handling.reason}${handling.refusedWhen ? `; refused when ${handling.refusedWhen}` : ''}`
        : `${handling.reason}${handling.when ? ` (an error ${handling.when})` : ''}`;
      return `| \`${field}\` | ${handling.handling} | ${markdownCell(how)} |`;
    });
  return ['| Compose field | handling | how, or why |', '| --- | --- | --- |', ...rows].join('\n');
}

/** Parses `KEY=VALUE` lines the way Compose reads .env and env_file files. */
export function parseDotenv(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    const quoted = /^(["'])(.*)\1\s*(?:#.*)?$/.exec(match[2]!);
    const value = quoted ? quoted[2]! : match[2]!.replace(/\s+#.*$/, '');
    values.set(match[1]!, value);
  }
  return values;
}

/** Splits a shell-form command the way Compose does for `command: "a b 'c d'"`. */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote: '"' | "'" | undefined;
  let inWord = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && index + 1 < text.length) current += text[++index];
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (char === '\\' && index + 1 < text.length) {
      current += text[++index];
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** `30s`, `1m30s`, `1h`, `500ms` → whole seconds (at least 1). */
export function durationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Math.max(1, Math.ceil(value / 1e9)); // Compose reads bare numbers as nanoseconds
  if (typeof value !== 'string') return undefined;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== value.replace(/\s+/g, '')) return undefined;
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 };
  const seconds = parts.reduce((total, part) => total + Number(part[1]) * unit[part[2]!]!, 0);
  return Math.max(1, Math.ceil(seconds));
}

/** `128mb`, `1g`, `512M`, `1000000` (bytes) → MiB, rounded up. */
export function sizeMiB(value: unknown): number | undefined {
  if (typeof value === 'number') return Math.max(1, Math.ceil(value / 1048576));
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(value);
  if (!match) return undefined;
  const factor: Record<string, number> = { '': 1 / 1048576, k: 1 / 1024, m: 1, g: 1024, t: 1048576 };
  return Math.max(1, Math.ceil(Number(match[1]) * factor[match[2]!.toLowerCase()]!));
}

/** `UPLOAD_LOCATION` → `upload-location`; `./library/` → `library`. */
function kebab(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/^(\d)/, 'v$1');
}

/**
 * Whether an environment variable carries a credential: the no-plaintext-secrets policy's own
 * test (policies/rules/no-plaintext-secrets.ts), so what the importer leaves in plain text the
 * policy accepts. A flag or number (`OAUTHLIB_RELAX_TOKEN_SCOPE=1`) is no credential.
 */
function isCredential(name: string, value: string | undefined): boolean {
  return looksLikeCredential(name) && !(value !== undefined && isFlagValue(value));
}

/**
 * Example values upstream ships for the operator to replace: never carried into a draft. A
 * credential with one becomes a generated secret; any other variable a required parameter.
 */
const PLACEHOLDER = /^(replace[-_ ]?me|change[-_ ]?me|change[-_ ]?it|change[-_ ]?this|change[-_ ]?password|changeme[0-9]*|secret|password|passw0rd|pass|xxx+|x{3,}|todo|tbd|placeholder|example|your[-_ ].*|<[^>]*>|\.\.\.|123456(78)?|insert[-_ ].*|set[-_ ]?me|fill[-_ ]?me|supersecret(password)?|mysecret(password)?|super[-_]?secret[-_]?key)$/i;

export function isPlaceholder(value: string): boolean {
  return PLACEHOLDER.test(value.trim());
}

interface Draft {
  readonly composeDir: string;
  readonly dotenv: Map<string, string>;
  readonly problems: Problem[];
  readonly refusals: Problem[];
  readonly notes: string[];
  readonly parameters: Map<string, ParameterSpec>;
  readonly secrets: Map<string, GeneratedSecret>;
  /**
   * Example value → the one secret every literal credential with that value shares, or null
   * when the value is ambiguous. Services that carry the same example password (an app's
   * DB_PASSWORD and its database's POSTGRES_PASSWORD, or a URL's password) mean the same
   * credential; two variables of one service with the same example value (a root and a
   * non-root password) do not, so that value is shared by nobody.
   */
  readonly secretsByExampleValue: Map<string, string | null>;
  /** volume name → what we know about it. */
  readonly volumes: Map<string, { source: string; hint?: string; mounts: { service: string; image: string; path: string }[] }>;
  /** Compose service name → the catalog name it gets (`plausible_db` → `plausible-db`). */
  readonly serviceNames: Map<string, string>;
  /** Top-level named volumes that are bind mounts in disguise (`driver_opts: { o: bind, device }`). */
  readonly boundVolumes: Map<string, string>;
  /** Services left out because they only run with a profile. */
  readonly profiled: Set<string>;
}

function secretFor(draft: Draft, id: string): string {
  if (!draft.secrets.has(id)) draft.secrets.set(id, { name: id, length: 32, charset: 'alphanumeric' });
  return `\${secret.${id}}`;
}

/**
 * Resolves every Compose variable to a value (for fields such as `image` and `ports`, where the
 * platform needs a concrete value). Unset variables without a default are problems, unless
 * `lenient` (command lines and health checks, where Compose substitutes an empty string).
 */
function resolveFully(draft: Draft, text: string, path: string, lenient = false): string {
  try {
    return interpolate(
      text,
      (name) => draft.dotenv.get(name),
      (name, required) => {
        if (required !== undefined) draft.problems.push({ path, message: `variable ${name} is required: ${required}` });
        else if (lenient) draft.notes.push(`${path}: variable ${name} has no value; Compose substitutes an empty string, and so does the draft`);
        else draft.problems.push({ path, message: `variable ${name} has no value (not in .env and no default)` });
        return '';
      },
    );
  } catch (error) {
    if (!(error instanceof InterpolationError)) throw error;
    draft.problems.push({ path, message: error.message });
    return '';
  }
}

/**
 * Turns Compose variables in an environment value into manifest placeholders: credentials
 * become generated secrets (one variable, one secret), the others parameters whose default is
 * the .env value or the Compose default. Literal text keeps its `$` escaped as `$$`.
 */
function translateVariables(draft: Draft, text: string, where: string): string {
  let parts: Interpolation[];
  try {
    parts = parseInterpolation(text);
  } catch (error) {
    if (!(error instanceof InterpolationError)) throw error;
    draft.problems.push({ path: where, message: error.message });
    return '';
  }
  const render = (list: readonly Interpolation[]): string =>
    list
      .map((part) => {
        if (part.kind === 'literal') return part.text.replace(/\$/g, '$$$$');
        const { name } = part;
        const fromDotenv = draft.dotenv.get(name);
        const isSet = fromDotenv !== undefined && (fromDotenv !== '' || !part.operator?.startsWith(':'));
        if (part.operator === '+' || part.operator === ':+') {
          // ${A:+text}: the text only when A is set. The draft has no conditionals: decided now.
          draft.notes.push(`${where}: \${${name}${part.operator}...} ${isSet ? 'kept its text' : 'became empty'} because ${name} is ${isSet ? 'set' : 'unset'} in .env; check by hand`);
          return isSet ? render(part.argument ?? []) : '';
        }
        const id = kebab(name);
        if (isCredential(name, fromDotenv)) return secretFor(draft, id);
        if (!draft.parameters.has(id)) {
          const fallback = part.operator === '-' || part.operator === ':-' ? interpolate(part.argumentText ?? '', (variable) => draft.dotenv.get(variable)) : undefined;
          let defaultValue = fromDotenv ?? fallback;
          if (defaultValue !== undefined && isPlaceholder(defaultValue)) {
            draft.notes.push(`${where}: ${name}'s upstream value ${JSON.stringify(defaultValue)} is an example to replace; the parameter ${id} is required instead`);
            defaultValue = undefined;
          }
          const description = part.operator?.endsWith('?') && part.argumentText ? part.argumentText : `Upstream variable ${name}.`;
          draft.parameters.set(id, { name: id, description, type: 'string', ...(defaultValue !== undefined ? { default: defaultValue } : { required: true }) });
        }
        return `\${param.${id}}`;
      })
      .join('');
  return render(parts);
}

/** Variable names that hold a host (`DB_HOST`, `REDIS_HOSTNAME`, `SMTP_SERVER`, `API_ADDR`). */
const HOST_VARIABLE = /(HOST|HOSTNAME|SERVER|ADDR|ADDRESS)$/i;

/**
 * Replaces a literal service hostname by `${service.<name>}`: in URLs (`redis://broker:6379`)
 * anywhere, and as a bare `db` or `db:5432` only in a variable that names a host. A bare value
 * that merely equals a service name (`POSTGRES_USER=miniflux`) is data, not a host.
 */
function translateServiceHosts(key: string, value: string, serviceNames: ReadonlyMap<string, string>): string {
  for (const [service, catalogName] of serviceNames) {
    const escaped = service.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (HOST_VARIABLE.test(key)) {
      if (value === service) return `\${service.${catalogName}}`;
      const hostPort = new RegExp(`^${escaped}(:\\d+)$`).exec(value);
      if (hostPort) return `\${service.${catalogName}}${hostPort[1]}`;
    }
    const url = new RegExp(`^([a-z][a-z0-9+.-]*://(?:[^@/]*@)?)${escaped}((?::\\d+)?(?:/.*)?)$`, 'i').exec(value);
    if (url) return `${url[1]}\${service.${catalogName}}${url[2]}`;
  }
  return value;
}

/**
 * A password inside a URL (`postgres://miniflux:secret@db/miniflux`) is an upstream example
 * like any other: it becomes a generated secret, shared with every variable that upstream set to
 * the same example value (the database's own POSTGRES_PASSWORD), so the two still match.
 */
function translateUrlPassword(draft: Draft, value: string, where: string): string {
  const match = /^([a-z][a-z0-9+.-]*)(:\/\/[^:@/]+:)([^@/]+)(@.*)$/i.exec(value);
  if (!match || match[3]!.includes('${')) return value;
  const [, scheme, userPart, password, rest] = match as unknown as [string, string, string, string, string];
  const shared = draft.secretsByExampleValue.get(password);
  const id = shared ?? `${kebab(scheme)}-password`;
  if (shared === null) draft.notes.push(`${where}: the URL's example password is carried by several variables of one service; it got its own secret ${id}: check by hand which one the URL's user needs`);
  else draft.notes.push(`${where}: the password in the URL replaced by the generated secret ${id}`);
  return `${scheme}${userPart}${secretFor(draft, id)}${rest}`;
}

function splitImage(reference: string): { image: string; tag?: string; digest?: string } {
  const [withoutDigest, digest] = reference.split('@') as [string, string | undefined];
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  const image = colon === -1 ? withoutDigest : withoutDigest.slice(0, colon);
  const tag = colon === -1 ? undefined : withoutDigest.slice(colon + 1);
  return { image, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

interface PortMapping {
  readonly container: number;
  readonly protocol: 'tcp' | 'udp';
  readonly published: boolean;
}

function parsePorts(draft: Draft, value: unknown, path: string): PortMapping[] {
  if (!Array.isArray(value)) {
    draft.problems.push({ path, message: `expected a list of ports, got ${describe(value)}` });
    return [];
  }
  const mappings: PortMapping[] = [];
  value.forEach((entry, index) => {
    const at = joinPath(path, index);
    if (isPlainObject(entry)) {
      const target = Number(entry.target);
      if (!Number.isInteger(target)) draft.problems.push({ path: joinPath(at, 'target'), message: `expected a container port, got ${describe(entry.target)}` });
      // Without `published`, Compose publishes on a host port it picks: published all the same.
      else mappings.push({ container: target, protocol: entry.protocol === 'udp' ? 'udp' : 'tcp', published: true });
      return;
    }
    const text = resolveFully(draft, String(entry), at);
    const match = /^(?:(?:\[[^\]]+\]|\d+\.\d+\.\d+\.\d+):)?(?:(\d+(?:-\d+)?):)?(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(text.trim());
    if (!match) {
      draft.problems.push({ path: at, message: `expected a port mapping such as "8080:80" or "53/udp", got ${describe(text)}` });
      return;
    }
    const first = Number(match[2]);
    const last = match[3] ? Number(match[3]) : first;
    if (last - first > 100) {
      draft.problems.push({ path: at, message: `port range ${first}-${last} is too large to import` });
      return;
    }
    for (let port = first; port <= last; port++) {
      // `"80"` alone publishes container port 80 on a host port Compose picks: still published.
      mappings.push({ container: port, protocol: (match[4] as 'tcp' | 'udp' | undefined) ?? 'tcp', published: true });
    }
  });
  return mappings;
}

interface MountRequest {
  readonly kind: 'volume' | 'bind' | 'anonymous' | 'tmpfs';
  readonly source?: string;
  readonly target: string;
  readonly readOnly: boolean;
  /** The source as written, before variables were resolved (`${UPLOAD_LOCATION}`). */
  readonly written?: string;
}

function parseVolumeEntry(draft: Draft, entry: unknown, path: string): MountRequest | undefined {
  const request = parseVolumeSyntax(draft, entry, path);
  if (!request) return undefined;
  if (!request.target.startsWith('/')) {
    draft.problems.push({ path, message: `expected an absolute path inside the container, got ${describe(request.target)}` });
    return undefined;
  }
  return { ...request, target: request.target.length > 1 ? request.target.replace(/\/+$/, '') : request.target };
}

/** Splits at `separator` except inside `${...}`, whose defaults may hold it (`${DIR:-./data}:/data`). */
export function splitOutsideVariables(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    if (text[index] === '$' && text[index + 1] === '{') {
      depth += 1;
      index += 1;
    } else if (text[index] === '}' && depth > 0) depth -= 1;
    else if (text[index] === separator && depth === 0) {
      parts.push(text.slice(start, index));
      start = index + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function parseVolumeSyntax(draft: Draft, entry: unknown, path: string): MountRequest | undefined {
  if (isPlainObject(entry)) {
    const type = entry.type;
    const target = typeof entry.target === 'string' ? entry.target : undefined;
    if (!target) {
      draft.problems.push({ path: joinPath(path, 'target'), message: 'expected the path inside the container' });
      return undefined;
    }
    const readOnly = entry.read_only === true;
    if (type === 'tmpfs') return { kind: 'tmpfs', target, readOnly };
    const written = typeof entry.source === 'string' ? entry.source : undefined;
    const source = written === undefined ? undefined : resolveFully(draft, written, joinPath(path, 'source'));
    if (type === 'bind') return { kind: 'bind', source, target, readOnly, written };
    if (type === 'volume' || type === undefined) return source ? { kind: 'volume', source, target, readOnly, written } : { kind: 'anonymous', target, readOnly };
    draft.problems.push({ path: joinPath(path, 'type'), message: `expected volume, bind or tmpfs, got ${describe(type)}` });
    return undefined;
  }
  if (typeof entry !== 'string') {
    draft.problems.push({ path, message: `expected "source:target[:mode]" or a mapping, got ${describe(entry)}` });
    return undefined;
  }
  const parts = splitOutsideVariables(entry, ':');
  if (parts.length === 1) return { kind: 'anonymous', target: parts[0]!, readOnly: false };
  const [writtenSource, target, mode] = parts as [string, string, string | undefined];
  const readOnly = (mode ?? '').split(',').includes('ro');
  const source = resolveFully(draft, writtenSource, path);
  const isPath = /^(\.|\/|~)/.test(source);
  return { kind: isPath ? 'bind' : 'volume', source, target, readOnly, written: writtenSource };
}

/**
 * A bind source as the host sees it, normalised before anything is judged: `//var//run/x` →
 * `/var/run/x`, `~` and `~root` → `/root`, `~alice` → `/home/alice`; a relative path stays
 * relative to the compose folder (`./data`), and one that climbs out of it (`../../var/run`)
 * is marked `outside`.
 */
export function normaliseHostPath(source: string): { path: string; outside: boolean } {
  const home = /^~([a-z_][a-z0-9_-]*)?(?=\/|$)/i.exec(source);
  let path = source;
  if (home) path = `${!home[1] || home[1] === 'root' ? '/root' : `/home/${home[1]}`}${source.slice(home[0].length)}`;
  const normalized = posix.normalize(path).replace(/(.)\/+$/, '$1');
  if (normalized.startsWith('/')) return { path: normalized, outside: false };
  return { path: normalized, outside: normalized === '..' || normalized.startsWith('../') };
}

/** Sockets of a container engine, wherever they live (`/run/user/1000/docker.sock`). */
const ENGINE_SOCKETS = /(^|\/)(docker|podman|containerd|crio)\.sock$/;

function forbiddenHostPath(source: string): { path: string; why: string } | undefined {
  const { path, outside } = normaliseHostPath(source);
  if (path === '/') return { path: '/', why: "the host's whole filesystem" };
  const listed = path.startsWith('/') ? FORBIDDEN_HOST_PATHS.find((rule) => path === rule.path || path.startsWith(`${rule.path}/`)) : undefined;
  if (listed) return { path, why: listed.why };
  if (ENGINE_SOCKETS.test(path)) return { path, why: 'a container engine socket gives the app root over every container and the customer LXC' };
  if (outside) return { path, why: "it climbs out of the compose folder into the host's filesystem" };
  return undefined;
}

/** Extensions that make a bind source a single file (`./init-data.sh`, `./config.xml`). */
const FILE_EXTENSION = /\.(sh|bash|py|js|xml|ya?ml|json|toml|ini|conf|cfg|env|txt|sql|properties|php|lua|pem|crt|key)$/i;

/** Whether a bind source is one file rather than a folder: on disk next to the compose file, or by its name. */
function isSingleFile(draft: Draft, hostPath: string, target: string): boolean {
  const full = resolve(draft.composeDir, hostPath);
  try {
    return statSync(full).isFile();
  } catch {
    return FILE_EXTENSION.test(hostPath) && FILE_EXTENSION.test(target);
  }
}

function classify(
  name: string,
  info: { source: string; hint?: string; mounts: { service: string; image: string; path: string }[] },
): VolumeClassification {
  const decide = (volumeClass: VolumeClass, reason: string, needsConfirmation = false): VolumeClassification => ({
    volume: name, class: volumeClass, reason, needsConfirmation, source: info.source,
  });
  // Hot wins over bulk: a mis-classified hot volume costs fast disk, a mis-classified bulk one can lose a database.
  for (const mount of info.mounts) {
    if (DATABASE_IMAGES.test(mount.image)) return decide('hot', `mounted by database service ${mount.service} (${mount.image}) at ${mount.path}`);
  }
  for (const mount of info.mounts) {
    if (CACHE_IMAGES.test(mount.image)) return decide('hot', `mounted by cache service ${mount.service} (${mount.image}) at ${mount.path}`);
  }
  const known = info.mounts
    .map((mount) => ({ mount, rule: IMAGE_PATHS.find((rule) => rule.image.test(mount.image) && rule.path === mount.path.replace(/\/+$/, '')) }))
    .filter((match) => match.rule !== undefined)
    .sort((a, b) => (a.rule!.class === 'hot' ? -1 : 1) - (b.rule!.class === 'hot' ? -1 : 1))[0];
  if (known) return decide(known.rule!.class, `${known.mount.image} keeps ${known.rule!.what} at ${known.mount.path} (service ${known.mount.service})`);
  const byPath = info.mounts
    .map((mount) => ({ mount, rule: PATH_RULES.find((rule) => rule.test.test(mount.path.replace(/\/+$/, ''))) }))
    .filter((match): match is { mount: (typeof info.mounts)[number]; rule: PathRule } => match.rule !== undefined);
  const hotPath = byPath.find((match) => match.rule.class === 'hot');
  if (hotPath) {
    // The path wins over a name that suggests files ("./files:/data"): say so, and ask to confirm.
    const bulkName = [name, info.hint].find((candidate) => candidate && NAME_RULES.some((rule) => rule.class === 'bulk' && rule.test.test(candidate)));
    const conflict = bulkName ? `; the name "${bulkName}" suggests files, but the mount path decides` : '';
    return decide('hot', `${hotPath.rule.reason(hotPath.mount.path)} (service ${hotPath.mount.service})${conflict}`, bulkName !== undefined);
  }
  const bulkPath = byPath.find((match) => match.rule.class === 'bulk');
  if (bulkPath) return decide('bulk', `${bulkPath.rule.reason(bulkPath.mount.path)} (service ${bulkPath.mount.service})`);
  for (const candidate of [name, info.hint].filter((text): text is string => Boolean(text))) {
    const rule = NAME_RULES.find((nameRule) => nameRule.test.test(candidate));
    if (rule) return decide(rule.class, `the name "${candidate}" suggests ${rule.what}`);
  }
  const where = info.mounts.map((mount) => `${mount.service}:${mount.path}`).join(', ');
  return decide('hot', `no evidence either way (${where}): hot is the safe default, always in the guest backup; confirm`, true);
}

/** A unique volume name derived from `wanted`. */
function uniqueVolumeName(draft: Draft, wanted: string, source: string): string {
  const base = kebab(wanted) || 'data';
  let name = base;
  for (let counter = 2; draft.volumes.has(name) && draft.volumes.get(name)!.source !== source; counter++) name = `${base}-${counter}`;
  return name;
}

/** A service's environment as Compose computes it: env_file first, then environment (Compose's precedence). */
function readEnvironment(draft: Draft, serviceName: string, raw: Record<string, unknown>): Record<string, string> {
  const at = (field: string) => joinPath(joinPath('services', serviceName), field);
  const environment: Record<string, string> = {};
  if (raw.env_file !== undefined) {
    const files = Array.isArray(raw.env_file) ? raw.env_file : [raw.env_file];
    files.forEach((entry, index) => {
      const file = typeof entry === 'string' ? entry : isPlainObject(entry) && typeof entry.path === 'string' ? entry.path : undefined;
      const required = !(isPlainObject(entry) && entry.required === false);
      const where = Array.isArray(raw.env_file) ? joinPath(at('env_file'), index) : at('env_file');
      if (!file) {
        draft.problems.push({ path: where, message: `expected a file path, got ${describe(entry)}` });
        return;
      }
      const full = resolve(draft.composeDir, file);
      if (!existsSync(full)) {
        if (required) draft.problems.push({ path: where, message: `env_file ${file} not found next to the compose file (${full})` });
        return;
      }
      for (const [key, value] of parseDotenv(readFileSync(full, 'utf8'))) environment[key] = value;
      draft.notes.push(`${where}: read ${file} into the environment`);
    });
  }
  if (raw.environment !== undefined) {
    if (Array.isArray(raw.environment)) {
      raw.environment.forEach((entry, index) => {
        const text = String(entry);
        const equals = text.indexOf('=');
        if (equals === -1) {
          // `- KEY` passes the value through from the operator's shell or .env.
          const value = draft.dotenv.get(text);
          if (value !== undefined) environment[text] = value;
          else draft.problems.push({ path: joinPath(at('environment'), index), message: `variable ${text} is passed through but has no value in .env` });
        } else environment[text.slice(0, equals)] = text.slice(equals + 1);
      });
    } else if (isPlainObject(raw.environment)) {
      for (const [key, value] of Object.entries(raw.environment)) environment[key] = value === null || value === undefined ? (draft.dotenv.get(key) ?? '') : String(value);
    } else draft.problems.push({ path: at('environment'), message: `expected a list or a mapping, got ${describe(raw.environment)}` });
  }
  return environment;
}

/** Compose reads booleans from YAML or strings (`privileged: "true"`); so does every check here. */
function truthy(value: unknown): boolean {
  return value === true || (typeof value === 'string' && /^(true|yes|on|1)$/i.test(value.trim()));
}

/** Records that the platform will not run something, naming the service and the reason. */
function refusal(draft: Draft, where: string, message: string): void {
  draft.refusals.push({ path: where, message: `refused: ${message}` });
}

/** The service's environment for the manifest: credentials become secrets, placeholders parameters, hosts references. */
function translateEnvironment(draft: Draft, at: (field: string) => string, environment: Record<string, string>): Record<string, string> {
  const translatedEnvironment: Record<string, string> = {};
  for (const [key, value] of Object.entries(environment)) {
    const where = joinPath(at('environment'), key);
    // A credential never keeps an example value ("postgres", "changeme"): one secret per variable.
    if (isCredential(key, value) && !/\$\{?[A-Za-z_]/.test(value)) {
      const shared = value === '' ? undefined : draft.secretsByExampleValue.get(value);
      const id = shared ?? kebab(key);
      translatedEnvironment[key] = secretFor(draft, id);
      if (shared === null) draft.notes.push(`${where}: upstream example value replaced by the generated secret ${id}; other variables of one service carried the same example value, so none shares it: check by hand which must match`);
      else if (value !== '') draft.notes.push(`${where}: upstream example value replaced by the generated secret ${id}${id !== kebab(key) ? ' (the same example value elsewhere: one credential)' : ''}`);
      continue;
    }
    if (isPlaceholder(value)) {
      const id = kebab(key);
      if (!draft.parameters.has(id)) draft.parameters.set(id, { name: id, description: `Upstream variable ${key} (upstream shipped an example value to replace).`, type: 'string', required: true });
      draft.notes.push(`${where}: the upstream value ${JSON.stringify(value)} is an example to replace; the parameter ${id} is required instead`);
      translatedEnvironment[key] = `\${param.${id}}`;
      continue;
    }
    translatedEnvironment[key] = translateServiceHosts(key, translateUrlPassword(draft, translateVariables(draft, value, where), where), draft.serviceNames);
  }

  return translatedEnvironment;
}

/** `ports` (published) and `expose` (not published). */
function translatePorts(draft: Draft, raw: Record<string, unknown>, at: (field: string) => string): PortMapping[] {
  const ports = raw.ports === undefined ? [] : parsePorts(draft, raw.ports, at('ports'));
  if (raw.expose !== undefined) {
    const exposed = Array.isArray(raw.expose) ? raw.expose : [raw.expose];
    exposed.forEach((entry, index) => {
      const match = /^(\d+)(?:\/(tcp|udp))?$/.exec(String(entry));
      if (match) ports.push({ container: Number(match[1]), protocol: (match[2] as 'tcp' | 'udp' | undefined) ?? 'tcp', published: false });
      else draft.problems.push({ path: joinPath(at('expose'), index), message: `expected a port number, got ${describe(entry)}` });
    });
  }
  return ports;
}

/** `volumes` and `tmpfs`: the service's mounts, its tmpfs, and the draft's volumes with their evidence. */
function translateMounts(draft: Draft, serviceName: string, raw: Record<string, unknown>, reference: string, at: (field: string) => string): { mounts: MountSpec[]; tmpfs: Record<string, number> } {
  const catalogName = draft.serviceNames.get(serviceName)!;
  const refuse = (where: string, message: string): void => refusal(draft, where, message);
  const mounts: MountSpec[] = [];
  const tmpfs: Record<string, number> = {};
  if (raw.volumes !== undefined) {
    if (!Array.isArray(raw.volumes)) draft.problems.push({ path: at('volumes'), message: `expected a list, got ${describe(raw.volumes)}` });
    else raw.volumes.forEach((entry, index) => {
      const where = joinPath(at('volumes'), index);
      const mount = parseVolumeEntry(draft, entry, where);
      if (!mount) return;
      if (mount.kind === 'tmpfs') {
        tmpfs[mount.target] = 64;
        return;
      }
      let volumeName: string;
      let source: string;
      let hint: string | undefined;
      const boundDevice = mount.kind === 'volume' ? draft.boundVolumes.get(mount.source!) : undefined;
      if (boundDevice !== undefined) {
        const forbidden = forbiddenHostPath(boundDevice);
        if (forbidden) {
          refuse(where, `service ${serviceName} mounts the volume ${mount.source}, which binds the host path ${boundDevice} (${forbidden.why})`);
          return;
        }
        draft.notes.push(`${where}: the volume ${mount.source} binds the host path ${boundDevice} (driver_opts); it becomes a managed volume, copy existing data in`);
      }
      if (mount.kind === 'bind') {
        const hostPath = mount.source!;
        if (TIMEZONE_FILES.has(normaliseHostPath(hostPath).path) && mount.readOnly) {
          draft.notes.push(`${where}: dropped ${hostPath} (read-only time zone file); set TZ instead`);
          return;
        }
        const forbidden = forbiddenHostPath(hostPath);
        if (forbidden) {
          refuse(where, `service ${serviceName} bind-mounts the host path ${hostPath} (${forbidden.path !== hostPath ? `${forbidden.path}: ` : ''}${forbidden.why})`);
          return;
        }
        if (isSingleFile(draft, hostPath, mount.target)) {
          // A volume is a folder: mounting one at a file path would hide the file the app needs.
          draft.problems.push({
            path: where,
            message: `bind-mounts the single file ${hostPath} at ${mount.target}; the platform mounts volumes (folders), not host files: bake the file into an image you publish, or mount its folder as a volume and copy the file in by hand`,
          });
          return;
        }
        source = `bind ${mount.written && mount.written !== hostPath ? `${mount.written} (${hostPath})` : hostPath}`;
        const variable = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)/.exec(mount.written ?? '')?.[1];
        hint = variable ? kebab(variable) : undefined;
        volumeName = uniqueVolumeName(draft, basename(hostPath.replace(/\/+$/, '')) || variable || 'data', source);
        if (hostPath.startsWith('/') || hostPath.startsWith('~')) {
          draft.notes.push(`${where}: host path ${hostPath} becomes the managed volume ${volumeName}; the platform places volumes itself, copy existing data in`);
        }
      } else if (mount.kind === 'anonymous') {
        source = `anonymous volume at ${serviceName}:${mount.target}`;
        volumeName = uniqueVolumeName(draft, `${serviceName}-${basename(mount.target) || 'data'}`, source);
        draft.notes.push(`${where}: anonymous volume ${mount.target} became the named volume ${volumeName}, so it can be placed and backed up`);
      } else {
        source = `named volume ${mount.source}`;
        volumeName = uniqueVolumeName(draft, mount.source!, source);
      }
      const known = draft.volumes.get(volumeName) ?? { source, ...(hint ? { hint } : {}), mounts: [] };
      known.mounts.push({ service: catalogName, image: reference, path: mount.target });
      draft.volumes.set(volumeName, known);
      mounts.push({ volume: volumeName, path: mount.target, ...(mount.readOnly ? { readOnly: true } : {}) });
    });
  }
  if (raw.tmpfs !== undefined) {
    const entries = Array.isArray(raw.tmpfs) ? raw.tmpfs : [raw.tmpfs];
    for (const entry of entries) {
      const [target, options = ''] = String(entry).split(/:(.*)/s) as [string, string | undefined];
      const size = /(?:^|,)size=([^,]+)/.exec(options ?? '')?.[1];
      tmpfs[target] = (size && sizeMiB(size)) || 64;
    }
  }
  return { mounts, tmpfs };
}

/** `healthcheck`: string tests become CMD-SHELL, durations seconds; disabled or absent means none. */
function translateHealthcheck(draft: Draft, raw: Record<string, unknown>, at: (field: string) => string): HealthCheck | undefined {
  let healthcheck: HealthCheck | undefined;
  if (raw.healthcheck !== undefined) {
    const check = isPlainObject(raw.healthcheck) ? raw.healthcheck : undefined;
    if (!check) draft.problems.push({ path: at('healthcheck'), message: `expected a mapping, got ${describe(raw.healthcheck)}` });
    else if (check.disable === true || (Array.isArray(check.test) && check.test[0] === 'NONE')) {
      draft.notes.push(`${at('healthcheck')}: disabled upstream; the update health gate then only sees the container running`);
    } else if (check.test === undefined) {
      draft.notes.push(`${at('healthcheck')}: the image's own HEALTHCHECK is used`);
    } else {
      const test = (Array.isArray(check.test) ? check.test.map(String) : ['CMD-SHELL', String(check.test)]).map((word) => resolveFully(draft, word, joinPath(at('healthcheck'), 'test'), true));
      const timing: Record<string, number> = {};
      for (const [field, key] of [['interval', 'intervalSeconds'], ['timeout', 'timeoutSeconds'], ['start_period', 'startPeriodSeconds']] as const) {
        if (check[field] === undefined) continue;
        const seconds = durationSeconds(check[field]);
        if (seconds === undefined) draft.problems.push({ path: joinPath(at('healthcheck'), field), message: `expected a duration such as 30s or 1m30s, got ${describe(check[field])}` });
        else timing[key] = seconds;
      }
      healthcheck = { test, ...timing, ...(typeof check.retries === 'number' ? { retries: check.retries } : {}) };
    }
  }
  return healthcheck;
}

/** `depends_on` (list or map) with the conditions the platform honours. */
function translateDependencies(draft: Draft, serviceName: string, raw: Record<string, unknown>, at: (field: string) => string): { dependsOn?: string[]; dependsOnCondition?: Record<string, DependencyCondition> } {
  let dependsOn: string[] | undefined;
  let dependsOnCondition: Record<string, DependencyCondition> | undefined;
  if (raw.depends_on !== undefined) {
    const entries: [string, unknown][] = Array.isArray(raw.depends_on)
      ? raw.depends_on.map((dependency) => [String(dependency), undefined])
      : isPlainObject(raw.depends_on)
        ? Object.entries(raw.depends_on)
        : [];
    if (!Array.isArray(raw.depends_on) && !isPlainObject(raw.depends_on)) draft.problems.push({ path: at('depends_on'), message: `expected a list or a mapping, got ${describe(raw.depends_on)}` });
    dependsOn = [];
    for (const [dependency, options] of entries) {
      const where = joinPath(at('depends_on'), dependency);
      const catalogName = draft.serviceNames.get(dependency);
      if (!catalogName) {
        // `required: false` (Compose 2.20): a dependency that may be absent, as a profiled one is.
        if (isPlainObject(options) && options.required === false) draft.notes.push(`${where}: dropped, an optional dependency (required: false) on a service the draft does not run`);
        else if (draft.profiled.has(dependency)) draft.notes.push(`${where}: dropped, ${dependency} only runs with its profile`);
        else draft.problems.push({ path: where, message: `no service named "${dependency}" in the compose file` });
        continue;
      }
      dependsOn.push(catalogName);
      const condition = isPlainObject(options) ? options.condition : undefined;
      if (condition === undefined || condition === 'service_started') continue;
      if (condition === 'service_healthy') (dependsOnCondition ??= {})[catalogName] = condition;
      else if (condition === 'service_completed_successfully') {
        draft.notes.push(`${joinPath(where, 'condition')}: service_completed_successfully became service_started: the platform cannot wait for a one-shot container to finish; check by hand that ${serviceName} copes when ${dependency} is still running`);
      } else draft.problems.push({ path: joinPath(where, 'condition'), message: `expected service_started, service_healthy or service_completed_successfully, got ${describe(condition)}` });
    }
  }
  return { ...(dependsOn ? { dependsOn } : {}), ...(dependsOnCondition ? { dependsOnCondition } : {}) };
}

/** `deploy.resources`, else `mem_limit`, `mem_reservation` and `cpus`. */
function translateResources(draft: Draft, raw: Record<string, unknown>, at: (field: string) => string): Resources {
  const resources: { -readonly [K in keyof Resources]: Resources[K] } = {};
  const limits = isPlainObject(raw.deploy) && isPlainObject(raw.deploy.resources) ? raw.deploy.resources : undefined;
  const memoryLimit = (isPlainObject(limits?.limits) ? limits.limits.memory : undefined) ?? raw.mem_limit;
  const memoryReservation = (isPlainObject(limits?.reservations) ? limits.reservations.memory : undefined) ?? raw.mem_reservation;
  const cpus = (isPlainObject(limits?.limits) ? limits.limits.cpus : undefined) ?? raw.cpus;
  if (memoryLimit !== undefined) resources.memoryMiB = sizeMiB(memoryLimit);
  if (memoryReservation !== undefined) resources.memoryReservationMiB = sizeMiB(memoryReservation);
  if (cpus !== undefined && Number.isFinite(Number(cpus))) resources.cpus = Number(cpus);
  if (isPlainObject(raw.deploy) && Object.keys(raw.deploy).some((key) => key !== 'resources')) draft.notes.push(`${at('deploy')}: only deploy.resources is used; the rest is for Swarm`);
  return resources;
}

function translateService(draft: Draft, serviceName: string, raw: Record<string, unknown>, environment: Record<string, string>): { spec?: ServiceSpec; ports: PortMapping[] } {
  const path = joinPath('services', serviceName);
  const at = (field: string) => joinPath(path, field);
  const catalogName = draft.serviceNames.get(serviceName)!;

  // What the platform will not run, each named with its service and reason; what it drops or
  // cannot run, each with a note or an error: all from the one field table.
  for (const [field, handling] of Object.entries(COMPOSE_SERVICE_FIELDS)) {
    if (raw[field] === undefined) continue;
    for (const found of handling.handling === 'unsupported' ? [] : (handling.refuse?.(raw[field], serviceName) ?? [])) {
      refusal(draft, found.at === undefined ? at(field) : joinPath(at(field), found.at), found.message);
    }
    if (handling.handling === 'ignored') draft.notes.push(`${at(field)}: dropped, ${handling.reason}`);
    if (handling.handling === 'unsupported' && !handling.unless?.(raw)) draft.problems.push({ path: at(field), message: `not supported: ${handling.reason}` });
  }
  for (const field of Object.keys(raw)) {
    if (!Object.hasOwn(COMPOSE_SERVICE_FIELDS, field)) draft.notes.push(`${at(field)}: dropped, not understood by the importer; check whether the app needs it`);
  }
  const capAdd = raw.cap_add === undefined ? [] : listOf(raw.cap_add).map(capabilityName).filter((capability) => SAFE_CAPABILITIES.includes(capability));

  if (typeof raw.image !== 'string') {
    if (raw.build === undefined) draft.problems.push({ path: at('image'), message: 'required: the platform runs published images only' });
    return { ports: [] };
  }
  const reference = resolveFully(draft, raw.image, at('image'));
  const { image, tag, digest } = splitImage(reference);
  if (!tag) draft.notes.push(`${at('image')}: no tag given (Docker would pull "latest"); pin a version`);
  else if (FLOATING_TAGS.includes(tag.toLowerCase())) draft.notes.push(`${at('image')}: "${tag}" is a floating tag; pin the version it points to before publishing`);
  if (raw.image !== reference) draft.notes.push(`${at('image')}: resolved ${raw.image} to ${reference}`);
  const role: ServiceRole | undefined = DATABASE_IMAGES.test(reference) ? 'database' : CACHE_IMAGES.test(reference) ? 'cache' : undefined;

  const translatedEnvironment = translateEnvironment(draft, at, environment);

  // Compose interpolates these before the container sees them: `$$` is one `$` for the shell.
  const words = (value: unknown, where: string): string[] => (Array.isArray(value) ? value.map(String) : splitCommand(String(value))).map((word) => resolveFully(draft, word, where, true));
  const command = raw.command === undefined ? undefined : words(raw.command, at('command'));
  const entrypoint = raw.entrypoint === undefined ? undefined : words(raw.entrypoint, at('entrypoint'));

  const ports = translatePorts(draft, raw, at);
  const { mounts, tmpfs } = translateMounts(draft, serviceName, raw, reference, at);
  const healthcheck = translateHealthcheck(draft, raw, at);
  const { dependsOn, dependsOnCondition } = translateDependencies(draft, serviceName, raw, at);
  const resources = translateResources(draft, raw, at);

  const restartText = typeof raw.restart === 'string' ? raw.restart.replace(/:\d+$/, '') : undefined;
  const restart = restartText === 'no' || restartText === 'always' || restartText === 'unless-stopped' || restartText === 'on-failure' ? restartText : undefined;
  const user = raw.user === undefined ? undefined : String(raw.user);
  const shmSizeMiB = raw.shm_size === undefined ? undefined : sizeMiB(raw.shm_size);
  if (raw.shm_size !== undefined && shmSizeMiB === undefined) draft.problems.push({ path: at('shm_size'), message: `expected a size such as 128mb, got ${describe(raw.shm_size)}` });

  const containerPorts = [...new Set(ports.map((port) => port.container))];
  const spec: ServiceSpec = {
    name: catalogName,
    image,
    tag: tag ?? 'latest',
    ...(digest ? { digest } : {}),
    ...(role ? { role } : {}),
    ...(Object.keys(translatedEnvironment).length > 0 ? { environment: translatedEnvironment } : {}),
    ...(command ? { command } : {}),
    ...(entrypoint ? { entrypoint } : {}),
    ...(containerPorts.length > 0 ? { ports: containerPorts } : {}),
    ...(mounts.length > 0 ? { mounts } : {}),
    ...(healthcheck ? { healthcheck } : {}),
    ...(dependsOn && dependsOn.length > 0 ? { dependsOn } : {}),
    ...(dependsOnCondition ? { dependsOnCondition } : {}),
    ...(capAdd.length > 0 ? { capAdd } : {}),
    ...(shmSizeMiB !== undefined ? { shmSizeMiB } : {}),
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
    ...(user ? { user } : {}),
    ...(restart && restart !== 'unless-stopped' ? { restart } : {}),
    ...(Object.keys(tmpfs).length > 0 ? { tmpfs } : {}),
    ...(truthy(raw.read_only) ? { readOnly: true } : {}),
    ...(truthy(raw.init) ? { init: true } : {}),
  };
  return { spec, ports };
}

/** Ports the customer's browser most likely talks to, best first. */
const WEB_PORTS = [80, 8080, 3000, 8000, 443, 8443, 9000, 5000];

/**
 * Imports compose text. `file` is where it came from: `.env` and `env_file`s are read next to it.
 * Throws {@link ComposeImportError} with every problem and refusal; nothing is half-imported.
 */
export function importCompose(text: string, file: string, options: ImportOptions = {}): ImportResult {
  const composeDir = dirname(resolve(file));
  const dotenvFile = resolve(composeDir, '.env');
  const draft: Draft = {
    composeDir,
    dotenv: existsSync(dotenvFile) ? parseDotenv(readFileSync(dotenvFile, 'utf8')) : new Map(),
    problems: [],
    refusals: [],
    notes: [],
    parameters: new Map(),
    secrets: new Map(),
    secretsByExampleValue: new Map(),
    volumes: new Map(),
    serviceNames: new Map(),
    boundVolumes: new Map(),
    profiled: new Set(),
  };
  const parsed = parseYaml(text, { merge: true });
  if (parsed.problems.length > 0) throw new ComposeImportError(file, parsed.problems, []);
  const document = parsed.value;
  if (!isPlainObject(document) || !isPlainObject(document.services) || Object.keys(document.services).length === 0) {
    throw new ComposeImportError(file, [{ path: isPlainObject(document) ? 'services' : DOCUMENT_PATH, message: 'expected a Compose file with a services mapping' }], []);
  }
  if (existsSync(dotenvFile)) draft.notes.push(`.env: read ${draft.dotenv.size} variable${draft.dotenv.size === 1 ? '' : 's'} for interpolation`);

  const name = options.name ?? (typeof document.name === 'string' ? document.name : basename(composeDir));
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name)) {
    draft.problems.push({ path: options.name ? '--name' : 'name', message: `expected a catalog name (lower-case letters, digits and dashes), got ${describe(name)}; pass --name` });
  }
  for (const field of Object.keys(document)) {
    if (!['services', 'volumes', 'networks', 'name', 'version', 'x-casaos'].includes(field) && !field.startsWith('x-')) {
      draft.notes.push(`${field}: dropped top-level field`);
    }
  }

  // `docker compose up` starts only the services without a profile: so does the draft.
  const active: [string, Record<string, unknown>][] = [];
  for (const [serviceName, raw] of Object.entries(document.services)) {
    if (!isPlainObject(raw)) {
      draft.problems.push({ path: joinPath('services', serviceName), message: `expected a mapping, got ${describe(raw)}` });
      continue;
    }
    if (Array.isArray(raw.profiles) && raw.profiles.length > 0) {
      draft.profiled.add(serviceName);
      draft.notes.push(`${joinPath(joinPath('services', serviceName), 'profiles')}: left out, it only runs with the profile ${raw.profiles.map(String).join(' or ')} (as docker compose up does); import it as its own app if it is needed`);
      continue;
    }
    // Catalog names are lower-case with dashes: `plausible_db` → `plausible-db`, references follow.
    const catalogName = serviceName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(catalogName) || [...draft.serviceNames.values()].includes(catalogName)) {
      draft.problems.push({ path: joinPath('services', serviceName), message: 'expected a service name of lower-case letters, digits and dashes (or one that becomes one, unique)' });
      continue;
    }
    if (catalogName !== serviceName) draft.notes.push(`${joinPath('services', serviceName)}: renamed ${catalogName} (catalog service names use dashes); references to it follow`);
    draft.serviceNames.set(serviceName, catalogName);
    active.push([serviceName, raw]);
  }
  if (isPlainObject(document.volumes)) {
    // A "local" volume with `o: bind` is a host path under another name: judged like one.
    for (const [volume, options] of Object.entries(document.volumes)) {
      const driverOptions = isPlainObject(options) && isPlainObject(options.driver_opts) ? options.driver_opts : undefined;
      if (driverOptions && typeof driverOptions.device === 'string' && /(^|,)r?bind(,|$)/.test(String(driverOptions.o ?? ''))) {
        draft.boundVolumes.set(volume, resolveFully(draft, driverOptions.device, joinPath(joinPath(joinPath('volumes', volume), 'driver_opts'), 'device')));
      }
    }
  }
  const environments = new Map(active.map(([serviceName, raw]) => [serviceName, readEnvironment(draft, serviceName, raw)]));
  // Literal example credentials by value: who shares which secret (see Draft.secretsByExampleValue).
  const carriers = new Map<string, { service: string; id: string; database: boolean }[]>();
  for (const [serviceName, raw] of active) {
    for (const [key, value] of Object.entries(environments.get(serviceName)!)) {
      if (value === '' || !isCredential(key, value) || /\$\{?[A-Za-z_]/.test(value)) continue;
      const list = carriers.get(value) ?? [];
      list.push({ service: serviceName, id: kebab(key), database: typeof raw.image === 'string' && DATABASE_IMAGES.test(raw.image) });
      carriers.set(value, list);
    }
  }
  for (const [value, list] of carriers) {
    const ambiguous = list.some((carrier) => list.some((other) => other !== carrier && other.service === carrier.service && other.id !== carrier.id));
    draft.secretsByExampleValue.set(value, ambiguous ? null : (list.find((carrier) => carrier.database) ?? list[0]!).id);
  }

  const services: ServiceSpec[] = [];
  const portsByService = new Map<string, PortMapping[]>();
  for (const [serviceName, raw] of active) {
    const { spec, ports } = translateService(draft, serviceName, raw, environments.get(serviceName)!);
    if (spec) {
      services.push(spec);
      portsByService.set(spec.name, ports);
    }
  }
  if (isPlainObject(document.volumes)) {
    for (const [volume, options] of Object.entries(document.volumes)) {
      if (draft.boundVolumes.has(volume)) continue;
      if (isPlainObject(options) && (options.external === true || options.driver !== undefined)) {
        draft.notes.push(`${joinPath('volumes', volume)}: ${options.external === true ? 'external' : `driver ${String(options.driver)}`} dropped; the platform creates and places every volume`);
      }
      if (![...draft.volumes.values()].some((known) => known.source === `named volume ${volume}`)) {
        draft.notes.push(`${joinPath('volumes', volume)}: declared but not mounted by any service; left out`);
      }
    }
  }
  if (draft.problems.length > 0 || draft.refusals.length > 0) throw new ComposeImportError(file, draft.problems, draft.refusals);

  const classifications = [...draft.volumes.entries()].map(([volumeName, info]) => classify(volumeName, info));
  const volumes: VolumeSpec[] = classifications.map((classification) => ({
    name: classification.volume,
    class: classification.class,
    ...(classification.class === 'bulk' ? { backup: { policy: 'file-level' as const } } : {}),
  }));

  // The HTTP entry: the first published TCP port of a service that is not a database or cache.
  let http: AppManifest['http'];
  const exposedPorts: ExposedPort[] = [];
  for (const service of services) {
    const published = (portsByService.get(service.name) ?? []).filter((port) => port.published);
    if (published.length === 0) continue;
    if (service.role === 'database' || service.role === 'cache') {
      draft.notes.push(`${joinPath(joinPath('services', service.name), 'ports')}: not published; ${service.role}s stay on the app network`);
      continue;
    }
    const tcp = published.filter((port) => port.protocol === 'tcp');
    const web = [...tcp].sort((a, b) => rank(a.container) - rank(b.container))[0];
    for (const port of published) {
      if (!http && port === web) {
        http = { service: service.name, port: port.container };
        continue;
      }
      exposedPorts.push({
        service: service.name,
        port: port.container,
        protocol: port.protocol,
        reason: `Published by upstream (${port.container}/${port.protocol}); confirm it must be reachable outside the tunnel, or remove it.`,
      });
    }
  }
  if (!http) draft.notes.push('http: no service publishes a TCP port; add the http entry by hand if the app has a web UI');

  const main = services.find((service) => service.name === http?.service) ?? services[0]!;
  const memoryLimits = services.map((service) => service.resources?.memoryMiB).filter((value): value is number => value !== undefined);
  const manifest: AppManifest = {
    apiVersion: MANIFEST_API_VERSION,
    name,
    title: name.split('-').map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join(' '),
    description: `Imported from ${basename(file)}; describe the app for customers.`,
    version: main.tag,
    ...(http ? { http } : {}),
    services,
    ...(volumes.length > 0 ? { volumes } : {}),
    ...(draft.parameters.size > 0 ? { parameters: [...draft.parameters.values()] } : {}),
    ...(draft.secrets.size > 0 ? { secrets: [...draft.secrets.values()] } : {}),
    ...(memoryLimits.length > 0 ? { minMemoryMiB: Math.max(64, memoryLimits.reduce((sum, value) => sum + value, 0)) } : {}),
    update: { channel: 'stable', backupBeforeUpdate: true, rollbackOnFailedHealthCheck: true },
    ...(exposedPorts.length > 0 ? { exposedPorts } : {}),
  };
  return { manifest, volumes: classifications, notes: draft.notes, draftProblems: validateManifest(manifest) };
}

function rank(port: number): number {
  const index = WEB_PORTS.indexOf(port);
  return index === -1 ? WEB_PORTS.length : index;
}

/**
 * The draft as YAML, with the review in comments: a header with the notes and what the draft
 * still lacks, and above each volume its class's reason, so the file itself carries the evidence.
 */
export function renderDraft(result: ImportResult, source: string): string {
  const document = new Document(result.manifest);
  const header = [
    ` Draft imported by \`felhom catalog import\` from ${source}.`,
    ' Review every volume class and note below, then remove this header.',
    ...result.notes.map((note) => ` note: ${note}`),
    ...result.draftProblems.map((problem) => ` to fix: ${formatProblem(problem)}`),
  ];
  document.commentBefore = header.join('\n');
  const volumes = document.get('volumes');
  if (isSeq(volumes)) {
    volumes.items.forEach((item, index) => {
      const classification = result.volumes[index];
      if (!classification || !isMap(item)) return;
      item.commentBefore = ` ${classification.class}${classification.needsConfirmation ? ' (CONFIRM)' : ''}: ${classification.reason}; from ${classification.source}`;
    });
  }
  return document.toString({ lineWidth: 0 });
}
