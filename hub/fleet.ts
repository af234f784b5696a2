/**
 * The fleet view: each box's state from what the hub holds (last contact, published specs,
 * pending jobs, last reports), worst first, so an operator sees the failing boxes at the top of
 * `felhom hub boxes` and GET /v1/boxes. Both storage backends feed it the same facts.
 */
import { BOX_STATES, type BoxState, type BoxStatus, type TierStatus } from '../runner/hub/protocol.js';
import type { BoxFacts, TierFacts } from './store.js';

/** A box that has not called the hub for this long is `stale` (agents poll at least every minute). */
export const STALE_AFTER_MS = 10 * 60 * 1000;

function tierStatus(facts: TierFacts): TierStatus {
  const drift = facts.specSerial !== null && (facts.appliedSerial === null || facts.appliedSerial < facts.specSerial);
  const failed = facts.lastReport !== null && facts.lastReport.outcome !== 'succeeded';
  return {
    tier: facts.tier,
    specSerial: facts.specSerial,
    appliedSerial: facts.appliedSerial,
    lastOutcome: facts.lastReport?.outcome ?? null,
    lastReportAt: facts.lastReport?.receivedAt ?? null,
    pendingJobs: facts.pendingJobs,
    drift,
    ...(failed && facts.lastReport?.reason ? { reason: facts.lastReport.reason } : {}),
  };
}

function boxState(box: BoxFacts, tiers: readonly TierStatus[], now: number, staleAfterMs: number): BoxState {
  if (tiers.some((tier) => tier.lastOutcome === 'failed' || tier.lastOutcome === 'rejected')) return 'failing';
  if (box.lastContactAt === null) return tiers.some((tier) => tier.drift || tier.pendingJobs > 0) ? 'drifting' : 'new';
  if (now - Date.parse(box.lastContactAt) > staleAfterMs) return 'stale';
  if (tiers.some((tier) => tier.drift)) return 'drifting';
  if (tiers.some((tier) => tier.pendingJobs > 0)) return 'pending';
  return 'ok';
}

/** The fleet view, worst state first, then by box id. */
export function fleetView(facts: readonly BoxFacts[], options: { now?: number; staleAfterMs?: number } = {}): BoxStatus[] {
  const now = options.now ?? Date.now();
  const staleAfterMs = options.staleAfterMs ?? STALE_AFTER_MS;
  const rows = facts.map((box): BoxStatus => {
    const tiers = [...box.tiers].sort((a, b) => a.tier.localeCompare(b.tier)).map(tierStatus);
    return {
      box: box.box,
      enrolledAt: box.enrolledAt,
      state: boxState(box, tiers, now, staleAfterMs),
      lastContactAt: box.lastContactAt,
      pendingJobs: tiers.reduce((sum, tier) => sum + tier.pendingJobs, 0),
      tiers,
    };
  });
  return rows.sort((a, b) => BOX_STATES.indexOf(a.state) - BOX_STATES.indexOf(b.state) || (a.box < b.box ? -1 : a.box > b.box ? 1 : 0));
}

/** How many boxes are in each state (every state present, zero or not). */
export function countByState(view: readonly BoxStatus[]): Record<BoxState, number> {
  const counts = Object.fromEntries(BOX_STATES.map((state) => [state, 0])) as Record<BoxState, number>;
  for (const box of view) counts[box.state]++;
  return counts;
}
