/** Every Felhom policy rule, in the order reports list them (docs/policies.md). */
import type { PolicyRule } from '../types.js';
import { backupsAreReal } from './backups.js';
import { dataPlacement } from './data-placement.js';
import { exposure } from './exposure.js';
import { geoMatchesSpec } from './geo.js';
import { guestHardening } from './guest-hardening.js';
import { noPlaintextSecrets } from './no-plaintext-secrets.js';
import { statefulProtected } from './stateful-protected.js';
import { imagesPinned } from './supply-chain.js';
import { tierBoundary } from './tier-boundary.js';

export const RULES: readonly PolicyRule[] = [
  tierBoundary,
  guestHardening,
  dataPlacement,
  backupsAreReal,
  statefulProtected,
  noPlaintextSecrets,
  exposure,
  imagesPinned,
  geoMatchesSpec,
];

export { backupsAreReal, dataPlacement, exposure, geoMatchesSpec, guestHardening, imagesPinned, noPlaintextSecrets, statefulProtected, tierBoundary };
