/**
 * Making envelopes: the operator's side. A signature is a detached OpenPGP signature over the
 * payload's UTF-8 bytes, binary mode, as `gpg --detach-sign` makes it.
 */
import * as openpgp from 'openpgp';
import type { Tier } from '../../stacks/spec/types.js';
import { bodyProblems } from './body.js';
import { InvalidBodyError } from './errors.js';
import { canonicalPayload, ENVELOPE_FORMAT, parseEnvelope, parseHeader, type EnvelopeDocument, type EnvelopeHeader, type EnvelopeType } from './format.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * How long a new envelope is valid (docs/envelope.md, "Validity"). A spec is desired state: 30
 * days, so a box that was off over a holiday still applies the spec published while it was away,
 * while a hub holding back a newer spec can freeze a box for at most that long. A job is an
 * action for now: 7 days.
 */
export const DEFAULT_VALIDITY_MS: Readonly<Record<EnvelopeType, number>> = { spec: 30 * DAY_MS, job: 7 * DAY_MS };

export interface EnvelopeContent {
  readonly type: EnvelopeType;
  readonly box: string;
  readonly tier: Tier;
  readonly serial: number;
  readonly body: Record<string, unknown>;
  /** @default - now */
  readonly issuedAt?: Date;
  /** @default - issuedAt plus DEFAULT_VALIDITY_MS of the type: 30 days for a spec, 7 for a job */
  readonly expiresAt?: Date;
}

/** The header an envelope with this content carries; refuses content no box would accept. */
export function buildHeader(content: EnvelopeContent): EnvelopeHeader {
  const issuedAt = content.issuedAt ?? new Date();
  const expiresAt = content.expiresAt ?? new Date(issuedAt.getTime() + DEFAULT_VALIDITY_MS[content.type]);
  const header: EnvelopeHeader = {
    format: ENVELOPE_FORMAT,
    type: content.type,
    box: content.box,
    tier: content.tier,
    serial: content.serial,
    issuedAt: issuedAt.toISOString(),
    expiresAt: expiresAt.toISOString(),
    body: content.body,
  };
  // Round-trips through the verifier's own parser, so the signer and the box agree on the bytes.
  const parsed = parseHeader(canonicalPayload(header));
  const problems = bodyProblems(parsed.body, parsed.type, parsed.box);
  if (problems.length > 0) throw new InvalidBodyError(`invalid ${parsed.type} body: ${problems[0]}`, { details: problems });
  return parsed;
}

export async function signEnvelope(content: EnvelopeContent, signingKeys: openpgp.PrivateKey | readonly openpgp.PrivateKey[]): Promise<EnvelopeDocument> {
  const payload = canonicalPayload(buildHeader(content));
  return { payload, signatures: await detachedSignatures(payload, toArray(signingKeys)) };
}

/**
 * Adds signatures by more keys to an existing envelope (a second operator, or the new keys of a
 * rotation). The payload is left byte for byte as it is; a key that already signed is skipped.
 */
export async function addSignature(envelope: EnvelopeDocument | Uint8Array | string, signingKeys: openpgp.PrivateKey | readonly openpgp.PrivateKey[]): Promise<EnvelopeDocument> {
  const document = typeof envelope === 'string' || envelope instanceof Uint8Array ? parseEnvelope(envelope) : envelope;
  parseHeader(document.payload);
  const alreadySigned = new Set<string>();
  for (const armored of document.signatures) {
    const signature = await openpgp.readSignature({ armoredSignature: armored });
    for (const keyId of signature.getSigningKeyIDs()) alreadySigned.add(keyId.toHex());
  }
  const newKeys = toArray(signingKeys).filter((key) => !key.getKeys().some((part) => alreadySigned.has(part.getKeyID().toHex())));
  return { payload: document.payload, signatures: [...document.signatures, ...(await detachedSignatures(document.payload, newKeys))] };
}

async function detachedSignatures(payload: string, keys: readonly openpgp.PrivateKey[]): Promise<string[]> {
  const signatures: string[] = [];
  const bytes = new TextEncoder().encode(payload);
  // One armoured block per key, so a signature can be checked, counted or removed on its own.
  for (const key of keys) {
    const message = await openpgp.createMessage({ binary: bytes });
    signatures.push(await openpgp.sign({ message, signingKeys: key, detached: true, format: 'armored' }));
  }
  return signatures;
}

function toArray<T>(value: T | readonly T[]): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}
