/** The version `felhom --version` prints: package.json's, found from this module upward (source or dist/). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function felhomVersion(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let directory = from; ; directory = dirname(directory)) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'felhom-infra' && manifest.version) return manifest.version;
    } catch {
      // no package.json here
    }
    if (dirname(directory) === directory) return 'unknown';
  }
}
