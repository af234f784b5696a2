/**
 * Supply chain: a tag can be moved to other bytes after review; a digest cannot. Production
 * boxes pull every image by digest; on lab boxes (`spec.environment: lab`) the rule only advises.
 */
import { describe, isKnown, TYPES } from '../resources.js';
import type { PolicyContext, PolicyResource, PolicyRule } from '../types.js';

const PINNED = /@sha256:[0-9a-f]{64}$/;

/** Where the digest goes: the app's manifest service (`<app>-image-<service>`), or Traefik's args. */
function pinHint(resource: PolicyResource, context: PolicyContext): string {
  if (resource.parentType === TYPES.traefik) return 'pass Traefik a digest (TraefikArgs.digest) in the guest tier';
  const app = resource.parentType === TYPES.appStack ? context.box?.apps.find((candidate) => candidate.name === resource.parent) : undefined;
  const prefix = app ? `${app.name}-image-` : undefined;
  if (app && prefix && resource.name.startsWith(prefix)) {
    return `add digest: sha256:... to service "${resource.name.slice(prefix.length)}" in templates/apps/${app.template}/.felhom.yml`;
  }
  return 'pin the image by digest (image@sha256:...)';
}

export const imagesPinned: PolicyRule = {
  name: 'images-pinned',
  description: 'Container images are pulled by digest (image@sha256:...) on production boxes; advisory on lab boxes.',
  level: 'mandatory',
  levelFor: (box) => (box.environment === 'lab' ? 'advisory' : 'mandatory'),
  remediation: "Add the reviewed image's digest to the app manifest (services[].digest in templates/apps/<app>/.felhom.yml), or Traefik's digest in the guest tier.",
  tiers: ['guest'],
  needsBox: false,
  checkResource(resource, context) {
    if (resource.type !== TYPES.dockerImage) return [];
    const image = resource.inputs.name;
    if (!isKnown(image) || PINNED.test(String(image))) return [];
    return [`${describe(resource)} pulls ${JSON.stringify(image)} by tag, which can change under it: ${pinHint(resource, context)}`];
  },
};
