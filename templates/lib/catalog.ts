/**
 * The app catalog: every `templates/apps/<app>/.felhom.yml`, parsed and validated. A broken
 * manifest stops the load with every problem it has, so a bad catalog never reaches a box.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppManifest } from './manifest.js';
import { defaultAppsDir } from './paths.js';
import { formatProblem, parseYaml, type Problem } from './problems.js';
import { validateManifest } from './validate-manifest.js';
import { FelhomError } from '../../lib/errors.js';

export const MANIFEST_FILE = '.felhom.yml';

/** A manifest that does not parse or does not validate; `problems` lists every one with its path. */
export class ManifestError extends FelhomError {
  readonly file: string;
  readonly problems: readonly Problem[];
  /** `details`: one line per problem, printed by the CLI under the message. */
  constructor(file: string, problems: readonly Problem[]) {
    super('EMANIFEST', 'generic', `${file} is not a valid app manifest (${problems.length} problem${problems.length === 1 ? '' : 's'})`, { fault: 'input', details: problems.map(formatProblem) });
    this.file = file;
    this.problems = problems;
  }
}

/** The catalog has no app of that name. */
export class UnknownAppError extends FelhomError {
  readonly app: string;
  constructor(app: string, known: readonly string[]) {
    super('EUNKNOWNAPP', 'generic', `no catalog app named "${app}" (known: ${known.join(', ') || 'none'})`, { fault: 'input' });
    this.app = app;
  }
}

/**
 * Parses and validates manifest text. `expectedName`, when given, must equal the manifest's
 * `name` (the catalog directory name), so a copied folder cannot shadow another app.
 */
export function parseManifest(text: string, file: string, expectedName?: string): AppManifest {
  const parsed = parseYaml(text);
  const problems = parsed.problems.length > 0 ? [...parsed.problems] : validateManifest(parsed.value);
  const name = (parsed.value as { name?: unknown } | undefined)?.name;
  if (parsed.problems.length === 0 && expectedName !== undefined && typeof name === 'string' && name !== expectedName) {
    problems.push({ path: 'name', message: `expected "${expectedName}" (the directory name), got "${name}"` });
  }
  if (problems.length > 0) throw new ManifestError(file, problems);
  return parsed.value as AppManifest;
}

function readManifest(dir: string, name: string): AppManifest {
  const file = join(dir, name, MANIFEST_FILE);
  return parseManifest(readFileSync(file, 'utf8'), file, name);
}

/** Every app directory that holds a manifest, sorted by name. */
function appNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, MANIFEST_FILE)))
    .map((entry) => entry.name)
    .sort();
}

/**
 * Loads and validates the whole catalog: name → manifest, in name order. Throws
 * {@link ManifestError} on the first invalid manifest, with all of that manifest's problems.
 */
export function loadCatalog(dir: string = defaultAppsDir()): Map<string, AppManifest> {
  const catalog = new Map<string, AppManifest>();
  for (const name of appNames(dir)) catalog.set(name, readManifest(dir, name));
  return catalog;
}

/** Loads and validates one app's manifest; {@link UnknownAppError} when the catalog lacks it. */
export function loadManifest(name: string, dir: string = defaultAppsDir()): AppManifest {
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name) || !existsSync(join(dir, name, MANIFEST_FILE))) {
    throw new UnknownAppError(name, existsSync(dir) ? appNames(dir) : []);
  }
  return readManifest(dir, name);
}
