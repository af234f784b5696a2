/**
 * Where the catalog's data files live. The YAML stays in `<repo>/templates/` whether this
 * module runs from its .ts source (tests) or from `dist/templates/lib/*.js` (the built
 * command), so the repository root is found by walking up to the nearest package.json
 * instead of counting `..` segments, which differ between the two layouts.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The directory holding the project's package.json, found from this module's own location. */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(directory, 'package.json')) && existsSync(join(directory, 'templates'))) {
      cachedRoot = directory;
      return directory;
    }
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`no package.json with a templates/ folder above ${fileURLToPath(import.meta.url)}`);
    directory = parent;
  }
}

/** `<repo>/templates/apps`: one folder per catalog app, each with a `.felhom.yml`. */
export function defaultAppsDir(): string {
  return join(repoRoot(), 'templates', 'apps');
}

/** `<repo>/templates/lxc/golden.yml`: the golden LXC template. */
export function defaultGoldenTemplatePath(): string {
  return join(repoRoot(), 'templates', 'lxc', 'golden.yml');
}
