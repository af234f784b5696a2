/**
 * Tier boundary (docs/architecture.md#trust-tiers): each credential lives in exactly one place, so a tier's stack may
 * hold only resources of its own tier's providers. A Proxmox resource in the guest stack would
 * need the Proxmox token inside the customer's LXC; a Cloudflare resource on the box would need
 * the hub's API token there.
 */
import type { Tier } from '../../stacks/spec/types.js';
import { describe, packageOf } from '../resources.js';
import type { PolicyRule } from '../types.js';

/** The provider packages each tier's stack may use. `random` only generates values locally. */
export const TIER_PACKAGES: Readonly<Record<Tier, readonly string[]>> = {
  edge: ['cloudflare', 'random'],
  host: ['proxmoxve', 'command', 'random'],
  guest: ['docker', 'random'],
};

/** Which tier owns a provider package, for the message. */
const OWNER: Readonly<Record<string, string>> = {
  proxmoxve: 'host',
  command: 'host',
  cloudflare: 'edge',
  docker: 'guest',
};

const PROGRAM: Readonly<Record<Tier, string>> = { edge: 'stacks/edge.ts', host: 'stacks/host.ts', guest: 'stacks/guest.ts' };

export const tierBoundary: PolicyRule = {
  name: 'tier-boundary',
  description: "A tier's stack holds only its own tier's providers: Proxmox and host commands in host, Cloudflare in edge, Docker in guest.",
  level: 'mandatory',
  remediation: "Move the resource into the program of the tier that holds its provider's credential (stacks/edge.ts, host.ts or guest.ts).",
  tiers: ['edge', 'host', 'guest'],
  needsBox: false,
  checkResource(resource, { tier }) {
    // The engine's root stack resource belongs to every stack.
    if (resource.type === 'pulumi:pulumi:Stack') return [];
    const pkg = packageOf(resource.type);
    if (pkg === 'felhom') {
      const componentTier = resource.type.split(':')[1];
      if (componentTier === tier) return [];
      return [`${describe(resource)} is a ${componentTier}-tier component in the ${tier} tier's stack: create it in ${PROGRAM[componentTier as Tier] ?? 'its own tier program'} instead`];
    }
    const allowed = TIER_PACKAGES[tier];
    if (allowed.includes(pkg)) return [];
    const owner = OWNER[pkg];
    const where = owner ? `it belongs to the ${owner} tier (${PROGRAM[owner as Tier]})` : 'no tier allows this provider';
    return [`${describe(resource)} uses the ${pkg} provider, which the ${tier} tier may not hold (allowed: ${allowed.join(', ')}): ${where}`];
  },
};
