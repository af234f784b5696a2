/**
 * The app catalog as the box spec validator and the stacks see it: a lookup by template name.
 */
import { loadCatalog } from '../../templates/lib/catalog.js';
import type { AppManifest } from '../../templates/lib/manifest.js';
import type { CatalogLookup } from './validate.js';

let cached: ReadonlyMap<string, AppManifest> | undefined;

/** The catalog under templates/apps, loaded and validated once per process. */
export function catalogLookup(): CatalogLookup {
  cached ??= loadCatalog();
  const catalog = cached;
  return (template) => catalog.get(template);
}
