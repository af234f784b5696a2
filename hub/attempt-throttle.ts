/**
 * Failed attempts counted per key (a client address) in fixed windows, in this hub process's
 * memory: the per-address half of the guessing limit on enrollment codes. The per-box half lives
 * in the store (every replica shares it). Windows that ended are forgotten as new failures come.
 */
export class AttemptThrottle {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #clock: () => Date;
  readonly #windows = new Map<string, { start: number; failures: number }>();

  constructor(options: { max: number; windowMs: number; clock?: () => Date }) {
    this.#max = options.max;
    this.#windowMs = options.windowMs;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Seconds until `key` may try again, or 0 when it may now. */
  blockedFor(key: string): number {
    const now = this.#clock().getTime();
    const window = this.#windows.get(key);
    if (!window || now - window.start >= this.#windowMs || window.failures < this.#max) return 0;
    return Math.ceil((window.start + this.#windowMs - now) / 1000);
  }

  fail(key: string): void {
    const now = this.#clock().getTime();
    const window = this.#windows.get(key);
    if (window && now - window.start < this.#windowMs) window.failures += 1;
    else this.#windows.set(key, { start: now, failures: 1 });
    if (this.#windows.size > 10_000) {
      for (const [other, held] of this.#windows) if (now - held.start >= this.#windowMs) this.#windows.delete(other);
    }
  }
}
