/**
 * Box-side failures (docs/agent.md "Retrying box-side failures"): a verified envelope that failed
 * because of something on the box — a secret not yet in place, the engine or a plugin missing,
 * the agent's own set-up — is not the operator's mistake and does not burn its serial. It waits
 * in the journal (`waiting`) and is tried again with exponential backoff until it succeeds or a
 * newer envelope is verified, which supersedes it.
 */
import type { RetrySchedule } from '../state/journal.js';
import { AgentError, errorCode } from './errors.js';

/** Reason codes of failures a person fixes on the box, after which the same envelope can succeed. */
export const BOX_SIDE_CODES: ReadonlySet<string> = new Set(['ESECRET', 'EENGINE_MISSING', 'EPLUGIN_MISSING', 'EAGENT_SETUP']);

/** First retry after this long; each later one waits twice as long, up to {@link RETRY_CAP_MS}. */
export const RETRY_BASE_MS = 30_000;
export const RETRY_CAP_MS = 30 * 60_000;

export function isBoxSideFailure(error: unknown): boolean {
  return BOX_SIDE_CODES.has(errorCode(error));
}

/** The schedule after failure number `attempt` (1 for the first failure). */
export function retryAfter(attempt: number, now: Date): RetrySchedule {
  const delay = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return { attempt, nextAt: new Date(now.getTime() + delay).toISOString() };
}

/** Whether a waiting entry is due at `now`. */
export function isDue(retry: RetrySchedule | undefined, now: Date): boolean {
  return retry === undefined || Date.parse(retry.nextAt) <= now.getTime();
}

/** A waiting envelope given up because a newer one was verified after it. */
export class SupersededError extends AgentError {
  constructor(serial: number, newer: number) {
    super('ESUPERSEDED', 'stalled', `serial ${serial} was waiting for a box-side fix when serial ${newer} was verified; the newer one takes its place and serial ${serial} is not retried`);
  }
}
