/**
 * Wall time of the real engine on a small stack: `preview` and `up` of an unchanged stack, the
 * two operations the agent runs on every pull when nothing changed. Needs `npm run engine:install`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { locateEngine } from '../runner/engine/locate.js';
import { createWorkspace } from '../runner/engine/workspace.js';

const ROUNDS = 3;

/** Create-only resources: enough for the engine to load a provider and diff real state. */
const labelProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: `label-${inputs.index}`, outs: inputs };
  },
};

class Label extends pulumi.dynamic.Resource {
  constructor(name: string, index: number) {
    super(labelProvider, name, { index }, {});
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function timed(operation: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await operation();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function run(): Promise<void> {
  const engine = await locateEngine();
  const stateDir = await mkdtemp(join(tmpdir(), 'felhom-bench-engine-'));
  try {
    const { stack } = await createWorkspace({
      projectName: 'bench-engine',
      stackName: 'bench',
      stateDir,
      passphrase: randomBytes(18).toString('base64url'),
      engine,
      program: async () => {
        const labels = Array.from({ length: 5 }, (_, index) =>
          new Label(`label-${index}`, index));
        return { labels: labels.map((label) => label.id) };
      },
    });
    const firstUp = await timed(() => stack.up());
    const previews: number[] = [];
    const unchangedUps: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      previews.push(await timed(() => stack.preview()));
      unchangedUps.push(await timed(() => stack.up()));
    }
    console.log(`engine ${engine.version}: small stack (5 dynamic resources), ${ROUNDS} rounds`);
    console.log(`  first up:                 ${firstUp.toFixed(0)} ms`);
    console.log(`  preview, unchanged:       median ${median(previews).toFixed(0)} ms (${previews.map((ms) => ms.toFixed(0)).join(', ')})`);
    console.log(`  up, unchanged:            median ${median(unchangedUps).toFixed(0)} ms (${unchangedUps.map((ms) => ms.toFixed(0)).join(', ')})`);
    await stack.destroy();
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await run();
}
