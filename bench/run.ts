/**
 * `npm run bench`: every benchmark, printing its figures. Targets are stated next to each
 * figure; nothing here fails a build (these machines are shared and noisy).
 * `npm run bench -- plan hub` runs only the named ones.
 */
const benches: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  plan: () => import('./plan.js'),
  envelope: () => import('./envelope.js'),
  hub: () => import('./hub.js'),
  'hub-fleet': () => import('./hub-fleet.js'),
  engine: () => import('./engine.js'),
  'engine-overhead': () => import('./engine-overhead.js'),
  agent: () => import('./agent.js'),
  'pve-sim': () => import('./pve-sim.js'),
  'real-engine': () => import('./real-engine.js'),
};

const selected = process.argv.slice(2);
for (const [name, load] of Object.entries(benches)) {
  if (selected.length > 0 && !selected.includes(name)) continue;
  console.log(`\n== ${name} ==`);
  try {
    await (await load()).run();
  } catch (error) {
    console.log(`${name}: failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
