/** `rotate-keys`: the signed key rotation replaces the trust store (docs/envelope.md "Key rotation"). */
import { applyKeyRotation, rotationInstalled } from '../../envelope/index.js';
import type { JobHandler } from './index.js';

export const rotateKeysJob: JobHandler = async (ctx, { verified, resumed }) => {
  // Killed after the store was written and before the journal was: it took effect.
  if (resumed && (await rotationInstalled(verified, ctx.stores.trustPath))) {
    ctx.log.info('the interrupted rotation is already in the trust store; recorded as succeeded', { digest: verified.digest });
    return {};
  }
  // Trusted state changes only here, after every check passed.
  await applyKeyRotation(verified, ctx.stores.trustPath);
  return {};
};
