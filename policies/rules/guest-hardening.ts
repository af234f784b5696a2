/**
 * Guest hardening (docs/architecture.md#customer-node, #trust-boundaries): the customer LXC is the boundary between customer apps and the
 * Proxmox host. It runs unprivileged, gets only the container features Docker needs, and sees
 * no host directory except the bulk mount points its spec declares.
 */
import type { ResolvedGuest } from '../../stacks/spec/resolve.js';
import { asArray, asRecord, describe, isLxcContainer, quoted } from '../resources.js';
import type { PolicyContext, PolicyResource, PolicyRule } from '../types.js';

/** Container features Docker inside an unprivileged LXC needs; every other feature stays off. */
export const DOCKER_FEATURES: readonly string[] = ['nesting'];

/** The spec's guest a container resource implements, matched by VM id. */
export function guestOf(resource: PolicyResource, context: PolicyContext): ResolvedGuest | undefined {
  const vmId = resource.inputs.vmId;
  return context.box?.guests.find((guest) => guest.vmId === vmId);
}

export const guestHardening: PolicyRule = {
  name: 'guest-hardening',
  description: 'The customer LXC is unprivileged, has only the feature Docker needs (nesting), and no host bind mount besides its declared bulk mount points.',
  level: 'mandatory',
  remediation: 'Create the guest through CustomerLxc with unprivileged: true, the nesting feature only, and bulk storage only through spec.guests[].mounts.',
  tiers: ['host'],
  needsBox: false,
  checkResource(resource, context) {
    if (!isLxcContainer(resource.type)) return [];
    const messages: string[] = [];
    const inputs = resource.inputs;
    if (inputs.unprivileged !== true) {
      messages.push(`${describe(resource)} is privileged (unprivileged: ${JSON.stringify(inputs.unprivileged ?? null)}): an escaped app would be root on the Proxmox host; set unprivileged: true`);
    }
    const features = asRecord(inputs.features);
    const extra = Object.entries(features).filter(([name, value]) => !DOCKER_FEATURES.includes(name) && value !== false && value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0));
    if (extra.length > 0) {
      messages.push(`${describe(resource)} enables container features ${quoted(extra.map(([name]) => name))} beyond what Docker needs (${DOCKER_FEATURES.join(', ')}): turn them off`);
    }
    if (asArray(inputs.devicePassthroughs).length > 0) {
      messages.push(`${describe(resource)} passes host devices into the guest: remove devicePassthroughs; apps get storage through bulk mount points`);
    }
    const guest = guestOf(resource, context);
    for (const [index, entry] of asArray(inputs.mountPoints).entries()) {
      const mount = asRecord(entry);
      const volume = mount.volume;
      if (typeof volume === 'string' && volume.startsWith('/')) {
        messages.push(`${describe(resource)} mountPoints[${index}] bind-mounts the host path ${JSON.stringify(volume)}: give the guest storage only as a volume on a declared bulk storage (spec.guests[].mounts)`);
        continue;
      }
      if (!guest) continue;
      const declared = guest.mounts.find((candidate) => candidate.storage === volume);
      if (!declared) {
        messages.push(`${describe(resource)} mountPoints[${index}] mounts storage ${JSON.stringify(volume)}, which spec.guests "${guest.name}" does not declare (declared: ${quoted(guest.mounts.map((m) => m.storage)) || 'none'}): declare it under spec.guests[].mounts or remove the mount point`);
      } else if (mount.path !== undefined && mount.path !== declared.path) {
        messages.push(`${describe(resource)} mountPoints[${index}] mounts storage "${declared.storage}" at ${JSON.stringify(mount.path)} instead of its declared path "${declared.path}"`);
      }
    }
    if (context.box && !guest) {
      messages.push(`${describe(resource)} has VM id ${JSON.stringify(inputs.vmId)}, which no guest in spec.guests has: every customer LXC must come from the spec`);
    }
    return messages;
  },
};
