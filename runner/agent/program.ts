/**
 * Where the agent's Pulumi program comes from: an injectable factory, so the agent runs the
 * real tier programs (`stacks/index.ts`) on a box and a test program of dynamic providers on a
 * machine without provider plugins. The default pairs `tierProgram` with a plugin preflight:
 * a missing plugin stops the run before the engine starts, as a stalled, reported failure.
 */
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';
import type { InstalledPlugin } from '../engine/locate.js';
import type { TierEnvironment } from '../../stacks/environment.js';
import type { ResolvedBox } from '../../stacks/spec/resolve.js';
import type { Tier } from '../../stacks/spec/types.js';

export type ProgramFactory = (tier: Tier, box: ResolvedBox, env: TierEnvironment) => PulumiFn;

/**
 * The plugins a tier's real program needs, at the versions engine/plugins.json pins (the same
 * versions the stacks' explicit providers ask for).
 */
export async function tierPlugins(tier: Tier): Promise<InstalledPlugin[]> {
  const { tierPluginPins } = await import('../../engine/plugins.js');
  return tierPluginPins(tier);
}

/** The real tier programs, with the golden LXC template from templates/lxc/. */
export async function realProgramFactory(): Promise<ProgramFactory> {
  const [{ tierProgram }, { loadGoldenTemplate }] = await Promise.all([import('../../stacks/index.js'), import('../../templates/lib/golden.js')]);
  const golden = loadGoldenTemplate();
  return (tier, box, env) => tierProgram(tier, box, golden, env);
}
