/** `preview`: what an up of the last applied spec would change, counted and reported. */
import { engineOp } from '../engine-op.js';
import { lastAppliedSpec } from '../specs.js';
import type { JobHandler } from './index.js';

export const previewJob: JobHandler = async (ctx, { resumed }) => {
  const outcome = await engineOp(ctx, 'preview', await lastAppliedSpec(ctx), resumed);
  return { counts: outcome.counts };
};
