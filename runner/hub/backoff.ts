/**
 * Exponential backoff with full jitter (the AWS Architecture Blog's "full jitter"): the delay
 * before retry n is uniform in [0, min(cap, base · 2ⁿ)). Jitter spreads a fleet of boxes that
 * lost the hub at the same moment, so they do not all come back at the same moment.
 */
export interface BackoffOptions {
  /** Delay ceiling before jitter for the first retry. @default 1000 ms */
  readonly baseMs?: number;
  /** Largest delay ever returned. @default 300 000 ms (5 minutes) */
  readonly capMs?: number;
  /** A uniform random number in [0, 1); injectable for tests. @default Math.random */
  readonly random?: () => number;
}

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 1000;
  const cap = options.capMs ?? 300_000;
  const random = options.random ?? Math.random;
  // 2 ** 1024 is Infinity, which min() turns into the cap: no overflow for large attempts.
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** Counts consecutive failures: `next()` gives the delay before the next try, `reset()` after a success. */
export class Backoff {
  #attempt = 0;
  readonly #options: BackoffOptions;
  constructor(options: BackoffOptions = {}) {
    this.#options = options;
  }
  get attempt(): number {
    return this.#attempt;
  }
  next(): number {
    return backoffDelay(this.#attempt++, this.#options);
  }
  reset(): void {
    this.#attempt = 0;
  }
}
