/** `felhom catalog list [--json]`: the apps of the catalog, one line each. */
import type { CommandModule } from '../command.js';
import { loadCatalog } from '../../templates/lib/catalog.js';
import type { AppManifest } from '../../templates/lib/manifest.js';

export interface CatalogEntrySummary {
  name: string;
  title: string;
  version: string;
  services: number;
  hotVolumes: number;
  bulkVolumes: number;
  minMemoryMiB: number | null;
  /** Services whose image has no digest (the supply-chain policy flags them). */
  unpinnedImages: number;
}

export function summarize(manifest: AppManifest): CatalogEntrySummary {
  const volumes = manifest.volumes ?? [];
  return {
    name: manifest.name,
    title: manifest.title,
    version: manifest.version,
    services: manifest.services.length,
    hotVolumes: volumes.filter((volume) => volume.class === 'hot').length,
    bulkVolumes: volumes.filter((volume) => volume.class === 'bulk').length,
    minMemoryMiB: manifest.minMemoryMiB ?? null,
    unpinnedImages: manifest.services.filter((service) => !service.digest).length,
  };
}

const command: CommandModule = {
  description: 'list the apps in the catalog',
  configure(cmd) {
    cmd.option('--json', 'print the list as JSON');
  },
  async run(context, _args, options) {
    const summaries = [...loadCatalog().values()].map(summarize);
    if (options.json) {
      context.out.json(summaries);
      return;
    }
    const rows = [
      ['NAME', 'VERSION', 'SERVICES', 'VOLUMES (hot/bulk)', 'MIN RAM', 'TITLE'],
      ...summaries.map((entry) => [
        entry.name,
        entry.version,
        String(entry.services),
        `${entry.hotVolumes}/${entry.bulkVolumes}`,
        entry.minMemoryMiB === null ? '-' : `${entry.minMemoryMiB} MiB`,
        entry.title,
      ]),
    ];
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows) context.out.line(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
  },
};

export default command;
