/**
 * verify: the same checks, in the same order, as `felhom verify` (runner/envelope/verify.ts),
 * at the box clock. Writes nothing but the journal and the audit log: an accepted envelope's
 * `accepted` entry and its `verified` state (the rollback floor rises here, before anything is
 * applied); a refused one's outcome for the record step.
 *
 * {@link verifyForBox} is the agent's one way to verify an envelope: this step and an apply job
 * naming a received spec (runner/agent/specs.ts) both go through it, so both use the trust
 * store as it is now, this box and tier, the spec validator and the injected clock.
 */
import { EnvelopeError, isSignatureRefusal, loadTrustStore, verifyEnvelope, type EnvelopeType, type VerifiedEnvelope } from '../../envelope/index.js';
import type { JournalEntry } from '../../state/journal.js';
import { StepFailure, type AgentContext } from '../context.js';
import { errorKind, toReason } from '../errors.js';
import { appendAuditOnce, auditBase } from '../outbox.js';
import { SupersededError } from '../retry.js';
import { untilOutcome } from './step.js';

/** What an envelope is checked against beyond the trust store, box, tier, validator and clock. */
export interface VerifyCheck {
  /** @default - spec and job both accepted */
  readonly type?: EnvelopeType;
  /** @default - no floor yet */
  readonly lastSerial?: number;
}

/** Verifies `envelope` for this box and tier with the current trust store, at the agent's clock. */
export async function verifyForBox(ctx: AgentContext, envelope: string, check: VerifyCheck = {}): Promise<VerifiedEnvelope> {
  return verifyEnvelope(envelope, {
    trust: await loadTrustStore(ctx.stores.trustPath),
    box: ctx.box,
    tier: ctx.tier,
    ...(check.type ? { type: check.type } : {}),
    ...(check.lastSerial !== undefined ? { lastSerial: check.lastSerial } : {}),
    now: ctx.now(),
    validateBody: ctx.spec.validateBody,
  });
}

/** The rollback floor: the highest serial verified for this box and tier (docs/envelope.md rules 9 and 10). */
export function rollbackFloor(ctx: AgentContext): number | undefined {
  return ctx.stores.journal.verifiedFloor(ctx.box, ctx.tier) ?? undefined;
}

export const verifyStep = untilOutcome('verify', async (ctx, run) => {
  const item = run.item!;
  let entry = run.entry!;
  let verified: VerifiedEnvelope;
  try {
    // An entry past `received` passed the floor when it was verified (the journal says so);
    // it is checked again for everything else, but its own serial is not a replay of itself.
    const lastSerial = entry.state === 'received' ? rollbackFloor(ctx) : entry.serial - 1;
    verified = await verifyForBox(ctx, item.envelope, lastSerial !== undefined ? { lastSerial } : {});
  } catch (error) {
    if (errorKind(error) === 'waiting') throw new StepFailure('verify', error);
    const outcome = entry.state === 'running' || entry.state === 'waiting' ? 'failed' : error instanceof EnvelopeError ? 'rejected' : 'failed';
    // A refused envelope is never needed again; a copy refused at the signature rules must not
    // stand in for a differently signed copy in the archive.
    if (outcome === 'rejected' || isSignatureRefusal(error)) await ctx.archive.discard(item.digest, item.envelope).catch(() => undefined);
    run.verified = null;
    run.outcome = { outcome, error };
    return;
  }
  if (entry.state === 'received') {
    await appendAuditOnce(ctx, { ...auditBase(ctx, entry, verified), outcome: 'accepted' });
    // The floor rises here, before anything is applied (runner/state/journal.ts).
    entry = await ctx.stores.journal.transition(entry.id, 'verified');
    await supersedeWaiting(ctx, entry);
  }
  run.entry = entry;
  run.verified = verified;
});

/** Envelopes waiting on a box-side fix below a newly verified serial are given up: the newer one takes their place. */
async function supersedeWaiting(ctx: AgentContext, newer: JournalEntry): Promise<void> {
  for (const waiting of ctx.stores.journal.unfinished()) {
    if (waiting.state !== 'waiting' || waiting.box !== ctx.box || waiting.tier !== ctx.tier || waiting.serial >= newer.serial) continue;
    const error = new SupersededError(waiting.serial, newer.serial);
    ctx.log.warn('a waiting envelope was superseded', { digest: waiting.id, serial: waiting.serial, by: newer.serial });
    await ctx.stores.journal.transition(waiting.id, 'failed', toReason(error));
  }
}
