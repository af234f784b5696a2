/**
 * The specs a job works on: the last applied spec (from the envelope archive), and a received
 * spec an apply job names, verified again through the verify step's one path.
 */
import { parseEnvelope } from '../envelope/index.js';
import type { BoxSpec } from '../../stacks/spec/types.js';
import type { AgentContext } from './context.js';
import { AgentError, EnvelopeLostError } from './errors.js';
import { verifyForBox } from './steps/verify.js';

/** The spec last applied to this stack; ENO_SPEC (stalled) when there is none yet. */
export async function lastAppliedSpec(ctx: AgentContext): Promise<BoxSpec> {
  const applied = ctx.stores.journal.lastApplied(ctx.box, ctx.tier);
  const digest = applied?.specDigest;
  if (!digest) throw new AgentError('ENO_SPEC', 'stalled', `no spec has been applied to ${ctx.stackName} yet; publish one first`);
  const envelope = await ctx.archive.get(digest);
  if (!envelope) throw new EnvelopeLostError(`the last applied spec ${digest.slice(0, 12)} is not in the envelope archive`);
  // Trusted: it was verified when applied, and the archive checks the payload still hashes to its name.
  return (JSON.parse(parseEnvelope(envelope).payload) as { body: BoxSpec }).body;
}

/**
 * A spec envelope this box received (by payload digest), verified again as when it arrived:
 * trusted keys, this box and tier, a spec, newer than the last applied serial, at the box clock.
 */
export async function receivedSpec(ctx: AgentContext, digest: string): Promise<BoxSpec> {
  const envelope = /^[0-9a-f]{64}$/.test(digest) ? await ctx.archive.get(digest) : undefined;
  if (!envelope) throw new AgentError('ESPEC_UNKNOWN', 'stalled', `apply names spec ${digest.slice(0, 12)}, which this box has not received: publish the spec first`);
  // The job naming it passed the floor; the spec itself must still be newer than what is applied.
  const applied = ctx.stores.journal.lastApplied(ctx.box, ctx.tier);
  const verified = await verifyForBox(ctx, envelope, { type: 'spec', ...(applied ? { lastSerial: applied.serial } : {}) });
  return verified.body as unknown as BoxSpec;
}
