/**
 * The tier programs by tier, and what every caller does before running one: validate the
 * spec against the catalog and resolve its defaults.
 */
import type { GoldenTemplate } from '../templates/lib/golden.js';
import { edgeProgram } from './edge.js';
import type { TierEnvironment } from './environment.js';
import { guestProgram } from './guest.js';
import { hostProgram } from './host.js';
import type { ResolvedBox } from './spec/resolve.js';
import type { Tier } from './spec/types.js';

export { stackName } from './spec/resolve.js';

/** A tier's Pulumi program, ready for the mock runtime or the Automation API. */
export function tierProgram(tier: Tier, box: ResolvedBox, golden: GoldenTemplate, env: TierEnvironment): () => Promise<Record<string, unknown>> {
  switch (tier) {
    case 'edge':
      return async () => ({ ...edgeProgram(box, env) });
    case 'host':
      return async () => ({ ...hostProgram(box, golden, env) });
    case 'guest':
      return async () => ({ ...guestProgram(box, env) });
  }
}
