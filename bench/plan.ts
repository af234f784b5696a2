/**
 * `felhom plan` wall time, start-up included, for boxes with 1, 10 and 50 apps, all tiers.
 * Target: a 10-app box under 2 s on a 2-core machine, cost growing linearly with apps.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadCatalog } from '../templates/lib/catalog.js';
import { repoRoot } from '../templates/lib/paths.js';

/** The home box with `count` apps cycling through the catalog. */
export function boxWithApps(count: number): unknown {
  const root = repoRoot();
  const spec = parse(readFileSync(join(root, 'examples', 'home-box.yaml'), 'utf8')) as { spec: { apps: unknown[]; guests: { memoryMiB?: number }[] } };
  const catalog = loadCatalog();
  const templates = [...catalog.keys()];
  const chosen = Array.from({ length: count }, (_, index) => templates[index % templates.length]!);
  spec.spec.apps = chosen.map((template, index) => ({ name: `app-${index + 1}`, template }));
  // The guest gets room for its apps, as the spec's validator asks (each manifest's minMemoryMiB).
  const needed = chosen.reduce((sum, template) => sum + (catalog.get(template)?.minMemoryMiB ?? 0), 0);
  const guest = spec.spec.guests[0]!;
  guest.memoryMiB = Math.max(guest.memoryMiB ?? 0, needed);
  return spec;
}

export async function run(): Promise<void> {
  const root = repoRoot();
  const dir = mkdtempSync(join(tmpdir(), 'felhom-bench-plan-'));
  try {
    for (const apps of [1, 10, 50]) {
      const file = join(dir, `box-${apps}.yaml`);
      writeFileSync(file, stringify(boxWithApps(apps)));
      const samples: number[] = [];
      let resources = 0;
      for (let i = 0; i < 3; i++) {
        const started = process.hrtime.bigint();
        const output = execFileSync(process.execPath, [join(root, 'bin', 'felhom.js'), 'plan', file, '--json'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
        samples.push(Number(process.hrtime.bigint() - started) / 1e6);
        const plan = JSON.parse(output) as { tiers: Record<string, { resources: unknown[] }> };
        resources = Object.values(plan.tiers).reduce((sum, tier) => sum + tier.resources.length, 0);
      }
      const best = Math.min(...samples);
      console.log(`plan, ${String(apps).padStart(2)} apps, all tiers: ${best.toFixed(0)} ms wall (best of 3, start-up included), ${resources} resources, ${(resources / (best / 1000)).toFixed(0)} resources/s${apps === 10 ? '  [target < 2000 ms]' : ''}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
