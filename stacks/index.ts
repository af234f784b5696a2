/**
 * The tier programs by tier, and what every caller does before running one: validate the
 * spec against the catalog and resolve its defaults.
 */
import type { GoldenTemplate } from '../templates/lib/golden.js';
import type { TierEnvironment } from './environment.js';
import type { ResolvedBox } from './spec/resolve.js';
import type { Tier } from './spec/types.js';

export { stackName } from './spec/types.js';

/**
 * A tier's Pulumi program, ready for the mock runtime or the Automation API. Each tier's
 * module (and so its provider SDK) loads only when that tier runs: the agent on a host never
 * loads the Cloudflare SDK.
 */
export function tierProgram(tier: Tier, box: ResolvedBox, golden: GoldenTemplate, env: TierEnvironment): () => Promise<Record<string, unknown>> {
  switch (tier) {
    case 'edge':
      return async () => ({ ...(await import('./edge.js')).edgeProgram(box, env) });
    case 'host':
      return async () => ({ ...(await import('./host.js')).hostProgram(box, golden, env) });
    case 'guest':
      return async () => ({ ...(await import('./guest.js')).guestProgram(box, env) });
  }
}
