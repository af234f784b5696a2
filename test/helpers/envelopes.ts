/**
 * Envelope fixtures built by small modifier helpers: a valid job for box `box-1`'s host tier
 * at a fixed "now", and functions that change one thing about it.
 */
import * as openpgp from 'openpgp';
import { formatEnvelope, signEnvelope, type EnvelopeContent, type EnvelopeDocument, type VerifyOptions } from '../../runner/envelope/index.js';
import { trustOf, type TestKey } from './keys.js';

export const NOW = new Date('2026-06-01T12:00:00Z');
const HOUR = 60 * 60 * 1000;

export function content(overrides: Partial<EnvelopeContent> = {}): EnvelopeContent {
  return {
    type: 'job',
    box: 'box-1',
    tier: 'host',
    serial: 10,
    body: { action: 'apply' },
    issuedAt: new Date(NOW.getTime() - HOUR),
    expiresAt: new Date(NOW.getTime() + 24 * HOUR),
    ...overrides,
  };
}

/** An envelope file's text, signed by each key in turn. */
export async function signed(keys: readonly TestKey[], overrides: Partial<EnvelopeContent> = {}): Promise<string> {
  return formatEnvelope(await signEnvelope(content(overrides), keys.map((key) => key.privateKey)));
}

/** Verify options for `box-1`'s host tier at {@link NOW}, trusting alice alone unless told otherwise. */
export async function verifyOptions(overrides: Partial<VerifyOptions> = {}): Promise<VerifyOptions> {
  return { trust: overrides.trust ?? (await trustOf(['alice'])), box: 'box-1', tier: 'host', now: NOW, lastSerial: 9, ...overrides };
}

/** A detached signature over arbitrary text: for payloads signEnvelope would refuse to make. */
export async function signText(text: string, key: TestKey): Promise<string> {
  const message = await openpgp.createMessage({ binary: new TextEncoder().encode(text) });
  return openpgp.sign({ message, signingKeys: key.privateKey, detached: true, format: 'armored' });
}

export function document(text: string): EnvelopeDocument {
  return JSON.parse(text) as EnvelopeDocument;
}

export function withDocument(text: string, change: (document: EnvelopeDocument) => EnvelopeDocument): string {
  return formatEnvelope(change(document(text)));
}
