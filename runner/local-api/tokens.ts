/**
 * The guests' local-API tokens (`<state>/local-api/tokens.json`): one per guest, made by the
 * agent when it deploys the controller into that guest and shown only then. The file keeps each
 * token's sha256; a presented token is hashed and compared in constant time. Rotating a guest's
 * token makes the old one worthless at once.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { DurableStore } from '../state/store.js';

export const TOKENS_FILE = 'tokens.json';

interface TokenData {
  version: 1;
  guests: Record<string, { tokenHash: string; issuedAt: string }>;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export class LocalApiTokens {
  readonly #store: DurableStore<TokenData>;
  readonly #clock: () => Date;

  private constructor(store: DurableStore<TokenData>, clock: () => Date) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Opens (or creates) the token file in `dir` (the state's `local-api/`). */
  static async open(dir: string, options: { clock?: () => Date } = {}): Promise<LocalApiTokens> {
    const store = await DurableStore.open<TokenData>(join(dir, TOKENS_FILE), () => ({ version: 1, guests: {} }), (data) =>
      data.version !== 1 || data.guests === null || typeof data.guests !== 'object' ? 'not a version 1 token file' : undefined,
    );
    return new LocalApiTokens(store, options.clock ?? (() => new Date()));
  }

  /** A new token for `guest`, replacing any earlier one; returned once, only its hash is kept. */
  async issue(guest: string): Promise<string> {
    const token = `fhl_${randomBytes(32).toString('base64url')}`;
    await this.#store.update((data) => {
      data.guests[guest] = { tokenHash: sha256(token).toString('hex'), issuedAt: this.#clock().toISOString() };
    });
    return token;
  }

  /** Whether `token` is the current token of `guest` (false for a guest without one; same cost either way). */
  matches(guest: string, token: string): boolean {
    const record = Object.hasOwn(this.#store.data.guests, guest) ? this.#store.data.guests[guest] : undefined;
    const expected = Buffer.from(record?.tokenHash ?? '0'.repeat(64), 'hex');
    const actual = sha256(token);
    return expected.length === actual.length && timingSafeEqual(expected, actual) && record !== undefined;
  }
}
