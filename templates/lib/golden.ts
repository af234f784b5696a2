/**
 * The golden LXC template (`templates/lxc/golden.yml`): the Debian 13 + Docker guest every
 * customer LXC is created from, described as data so `CustomerLxc` consumes it instead of
 * hard-coding Proxmox settings. Reference: docs/catalog.md#golden-lxc-template.
 */
import { readFileSync } from 'node:fs';
import { defaultGoldenTemplatePath } from './paths.js';
import { DOCUMENT_PATH, formatProblem, joinPath, parseYaml, ProblemList, type Problem } from './problems.js';
import { FelhomError } from '../../lib/errors.js';

export const GOLDEN_API_VERSION = 'felhom.dev/golden/v1alpha1';
export const GOLDEN_KIND = 'GoldenTemplate';

export type ConsoleMode = 'tty' | 'console' | 'shell';

export interface GoldenTemplate {
  readonly apiVersion: typeof GOLDEN_API_VERSION;
  readonly kind: typeof GOLDEN_KIND;
  /** Template id, for example `debian-13-docker`. */
  readonly name: string;
  readonly description: string;
  readonly os: GoldenOs;
  /** Create the LXC unprivileged (root in the guest is an unprivileged uid on the host). */
  readonly unprivileged: boolean;
  /** Proxmox container features, in Proxmox's own words. */
  readonly features: GoldenFeatures;
  /** Default sizing; the box spec's `guests[]` fields override each one. */
  readonly sizing: GoldenSizing;
  readonly console: GoldenConsole;
  /** Start the container when the host boots. */
  readonly startOnBoot: boolean;
  /** What the controller needs inside the guest. */
  readonly guest: GoldenGuest;
}

export interface GoldenOs {
  /** Proxmox `ostype`. */
  readonly type: 'debian';
  /** Debian release, for example `13`. */
  readonly release: string;
  readonly architecture: 'amd64' | 'arm64';
  /** File name of the Proxmox system template on the template storage. */
  readonly templateFile: string;
  /** Where `pveam` publishes the template. @default - none: the file must already be on the storage */
  readonly downloadUrl?: string;
}

export interface GoldenFeatures {
  readonly nesting: boolean;
  readonly keyctl: boolean;
  readonly fuse: boolean;
}

export interface GoldenSizing {
  readonly cores: number;
  readonly memoryMiB: number;
  readonly swapMiB: number;
  readonly diskGiB: number;
}

export interface GoldenConsole {
  readonly enabled: boolean;
  /** Proxmox `cmode`. */
  readonly mode: ConsoleMode;
  readonly ttyCount: number;
}

export interface GoldenGuest {
  /** Debian packages installed before Docker. */
  readonly packages: readonly string[];
  readonly docker: GoldenDocker;
  readonly controller: GoldenController;
}

export interface GoldenDocker {
  /** Docker's apt repository. */
  readonly aptRepository: string;
  /** Debian suite of that repository, for example `trixie`. */
  readonly suite: string;
  /** Packages: the engine, its CLI, containerd and the Compose plugin. */
  readonly packages: readonly string[];
  readonly storageDriver: string;
  readonly logDriver: string;
}

export interface GoldenController {
  /** systemd unit running the in-guest controller. */
  readonly unit: string;
  readonly installDir: string;
  readonly dataDir: string;
  /** Folder under which each bulk storage is mounted (`<bulkMountRoot>/<storage>`). */
  readonly bulkMountRoot: string;
}

/** The golden template file does not parse or does not validate; `problems` lists every one. */
export class GoldenTemplateError extends FelhomError {
  readonly problems: readonly Problem[];
  constructor(file: string, problems: readonly Problem[]) {
    super('EGOLDEN', 'generic', `golden template ${file} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`, { fault: 'input', details: problems.map(formatProblem) });
    this.problems = problems;
  }
}

const ABSOLUTE_PATH = { pattern: /^\/[^\0]*$/, expected: 'an absolute path' };
const DEBIAN_PACKAGE = { pattern: /^[a-z0-9][a-z0-9.+-]+$/, expected: 'a Debian package name' };

/** Checks a parsed golden template; returns every problem with its path (empty when valid). */
export function validateGoldenTemplate(value: unknown): Problem[] {
  const check = new ProblemList();
  const root = check.object(
    value,
    DOCUMENT_PATH,
    ['apiVersion', 'kind', 'name', 'description', 'os', 'unprivileged', 'features', 'sizing', 'console', 'startOnBoot', 'guest'],
    ['apiVersion', 'kind', 'name', 'description', 'os', 'unprivileged', 'features', 'sizing', 'console', 'startOnBoot', 'guest'],
  );
  if (!root) return check.problems;
  if (root.apiVersion !== undefined) check.oneOf(root.apiVersion, 'apiVersion', [GOLDEN_API_VERSION]);
  if (root.kind !== undefined) check.oneOf(root.kind, 'kind', [GOLDEN_KIND]);
  if (root.name !== undefined) check.string(root.name, 'name', { pattern: /^[a-z0-9]+(-[a-z0-9]+)*$/, expected: 'lower-case letters, digits and dashes' });
  if (root.description !== undefined) check.string(root.description, 'description');

  const os = root.os === undefined ? undefined : check.object(root.os, 'os', ['type', 'release', 'architecture', 'templateFile', 'downloadUrl'], ['type', 'release', 'architecture', 'templateFile']);
  if (os) {
    if (os.type !== undefined) check.oneOf(os.type, 'os.type', ['debian']);
    if (os.release !== undefined) check.string(os.release, 'os.release', { pattern: /^\d+(\.\d+)?$/, expected: 'a Debian release number as a string, for example "13"' });
    if (os.architecture !== undefined) check.oneOf(os.architecture, 'os.architecture', ['amd64', 'arm64']);
    if (os.templateFile !== undefined) {
      check.string(os.templateFile, 'os.templateFile', { pattern: /^[A-Za-z0-9._+-]+\.tar\.(zst|xz|gz)$/, expected: 'a template file name ending in .tar.zst, .tar.xz or .tar.gz' });
    }
    if (os.downloadUrl !== undefined) check.string(os.downloadUrl, 'os.downloadUrl', { pattern: /^https?:\/\/\S+$/, expected: 'an http(s) URL' });
    if (typeof os.templateFile === 'string' && typeof os.downloadUrl === 'string' && !os.downloadUrl.endsWith(`/${os.templateFile}`)) {
      check.add('os.downloadUrl', `expected a URL ending in /${os.templateFile}, got ${JSON.stringify(os.downloadUrl)}`);
    }
  }
  if (root.unprivileged !== undefined) check.boolean(root.unprivileged, 'unprivileged');

  const features = root.features === undefined ? undefined : check.object(root.features, 'features', ['nesting', 'keyctl', 'fuse'], ['nesting', 'keyctl', 'fuse']);
  if (features) {
    for (const key of ['nesting', 'keyctl', 'fuse'] as const) if (features[key] !== undefined) check.boolean(features[key], joinPath('features', key));
    // Docker will not start in an unprivileged LXC without nesting; keyctl is root@pam's alone to set.
    if (root.unprivileged === true && features.nesting === false) check.add('features.nesting', 'Docker in an unprivileged LXC needs nesting: true');
    if (features.keyctl === true) check.add('features.keyctl', 'expected keyctl: false: PVE lets only root@pam set it, never the agent\'s API token, and runc in an unprivileged LXC runs without it');
  }

  const sizing = root.sizing === undefined ? undefined : check.object(root.sizing, 'sizing', ['cores', 'memoryMiB', 'swapMiB', 'diskGiB'], ['cores', 'memoryMiB', 'swapMiB', 'diskGiB']);
  if (sizing) {
    if (sizing.cores !== undefined) check.integer(sizing.cores, 'sizing.cores', { min: 1, max: 128 });
    if (sizing.memoryMiB !== undefined) check.integer(sizing.memoryMiB, 'sizing.memoryMiB', { min: 512 });
    if (sizing.swapMiB !== undefined) check.integer(sizing.swapMiB, 'sizing.swapMiB', { min: 0 });
    if (sizing.diskGiB !== undefined) check.integer(sizing.diskGiB, 'sizing.diskGiB', { min: 4 });
  }

  const console = root.console === undefined ? undefined : check.object(root.console, 'console', ['enabled', 'mode', 'ttyCount'], ['enabled', 'mode', 'ttyCount']);
  if (console) {
    if (console.enabled !== undefined) check.boolean(console.enabled, 'console.enabled');
    if (console.mode !== undefined) check.oneOf(console.mode, 'console.mode', ['tty', 'console', 'shell']);
    if (console.ttyCount !== undefined) check.integer(console.ttyCount, 'console.ttyCount', { min: 0, max: 6 });
  }
  if (root.startOnBoot !== undefined) check.boolean(root.startOnBoot, 'startOnBoot');

  const guest = root.guest === undefined ? undefined : check.object(root.guest, 'guest', ['packages', 'docker', 'controller'], ['packages', 'docker', 'controller']);
  if (guest) {
    const packages = guest.packages === undefined ? undefined : check.stringList(guest.packages, 'guest.packages');
    packages?.forEach((name, index) => check.string(name, joinPath('guest.packages', index), DEBIAN_PACKAGE));
    const docker = guest.docker === undefined ? undefined : check.object(guest.docker, 'guest.docker', ['aptRepository', 'suite', 'packages', 'storageDriver', 'logDriver'], ['aptRepository', 'suite', 'packages', 'storageDriver', 'logDriver']);
    if (docker) {
      if (docker.aptRepository !== undefined) check.string(docker.aptRepository, 'guest.docker.aptRepository', { pattern: /^https:\/\/\S+$/, expected: 'an https URL' });
      if (docker.suite !== undefined) check.string(docker.suite, 'guest.docker.suite');
      const dockerPackages = docker.packages === undefined ? undefined : check.stringList(docker.packages, 'guest.docker.packages', { nonEmpty: true });
      dockerPackages?.forEach((name, index) => check.string(name, joinPath('guest.docker.packages', index), DEBIAN_PACKAGE));
      if (dockerPackages && !dockerPackages.includes('docker-compose-plugin')) check.add('guest.docker.packages', 'the controller deploys with Compose: docker-compose-plugin is required');
      if (docker.storageDriver !== undefined) check.string(docker.storageDriver, 'guest.docker.storageDriver');
      if (docker.logDriver !== undefined) check.string(docker.logDriver, 'guest.docker.logDriver');
    }
    const controller = guest.controller === undefined ? undefined : check.object(guest.controller, 'guest.controller', ['unit', 'installDir', 'dataDir', 'bulkMountRoot'], ['unit', 'installDir', 'dataDir', 'bulkMountRoot']);
    if (controller) {
      if (controller.unit !== undefined) check.string(controller.unit, 'guest.controller.unit', { pattern: /^[A-Za-z0-9@._-]+\.service$/, expected: 'a systemd unit name ending in .service' });
      for (const key of ['installDir', 'dataDir', 'bulkMountRoot'] as const) {
        if (controller[key] !== undefined) check.string(controller[key], joinPath('guest.controller', key), ABSOLUTE_PATH);
      }
    }
  }
  return check.problems;
}

/** Parses and validates golden template YAML text; throws {@link GoldenTemplateError} with every problem. */
export function parseGoldenTemplate(text: string, file = 'golden.yml'): GoldenTemplate {
  const parsed = parseYaml(text);
  const problems = parsed.problems.length > 0 ? parsed.problems : validateGoldenTemplate(parsed.value);
  if (problems.length > 0) throw new GoldenTemplateError(file, problems);
  return parsed.value as GoldenTemplate;
}

/** Loads `templates/lxc/golden.yml` (or `file`) and validates it. */
export function loadGoldenTemplate(file: string = defaultGoldenTemplatePath()): GoldenTemplate {
  return parseGoldenTemplate(readFileSync(file, 'utf8'), file);
}

/** The Proxmox volume id of the OS template: `<storage>:vztmpl/<file>` (`local:vztmpl/debian-13-...`). */
export function templateFileId(template: GoldenTemplate, templateStorage: string): string {
  return `${templateStorage}:vztmpl/${template.os.templateFile}`;
}
