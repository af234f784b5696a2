/**
 * The envelope on disk and on the wire (docs/envelope.md):
 *
 *   { "payload": "<canonical JSON of the header, as a string>", "signatures": ["-----BEGIN PGP SIGNATURE-----..."] }
 *
 * The signed bytes are exactly the UTF-8 bytes of `payload`, so `gpg --detach-sign` over a
 * file holding that string makes a signature this code accepts, and the other way round.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { TIERS, type Tier } from '../../stacks/spec/types.js';
import { MalformedEnvelopeError } from './errors.js';
import { isPlainObject } from '../../templates/lib/problems.js';

export { isPlainObject };

/** Names the payload format, so a signature made over some other JSON document never passes as an envelope. */
export const ENVELOPE_FORMAT = 'felhom-envelope/v1';
/** Envelopes larger than this are refused before any parsing. */
export const DEFAULT_MAX_ENVELOPE_BYTES = 1024 * 1024;

export const ENVELOPE_TYPES = ['spec', 'job'] as const;
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number];

export const JOB_ACTIONS = ['apply', 'preview', 'refresh', 'snapshot', 'rollback', 'restore', 'rotate-keys', 'destroy', 'key-custody', 'decommission'] as const;
export type JobAction = (typeof JOB_ACTIONS)[number];

/** A job body: the action plus its parameters. */
export interface JobBody {
  readonly action: JobAction;
  readonly [parameter: string]: unknown;
}

/** The body of a `rotate-keys` job: the complete new key set and its threshold. */
export interface RotateKeysBody extends JobBody {
  readonly action: 'rotate-keys';
  /** Armoured OpenPGP public keys: the whole new trust set, not a delta. */
  readonly keys: readonly string[];
  readonly threshold: number;
}

/** Everything the signatures cover. */
export interface EnvelopeHeader {
  readonly format: typeof ENVELOPE_FORMAT;
  readonly type: EnvelopeType;
  /** The box id the envelope is for. */
  readonly box: string;
  readonly tier: Tier;
  /** Strictly increasing per box and tier, over specs and jobs alike. */
  readonly serial: number;
  /** ISO 8601 instant. */
  readonly issuedAt: string;
  /** ISO 8601 instant. */
  readonly expiresAt: string;
  readonly body: Record<string, unknown>;
}

/** The envelope document as stored and transported. */
export interface EnvelopeDocument {
  readonly payload: string;
  readonly signatures: readonly string[];
}

const ARMORED_SIGNATURE = /^-----BEGIN PGP SIGNATURE-----\r?\n[\s\S]*\r?\n-----END PGP SIGNATURE-----\s*$/;

/** The canonical (RFC 8785) JSON text of a header: the bytes the operators sign. */
export function canonicalPayload(header: EnvelopeHeader): string {
  const text = canonicalize(header);
  if (text === undefined) throw new TypeError('the envelope header cannot be serialised as JSON');
  return text;
}

/** sha256 of the payload's UTF-8 bytes, hex: the envelope's identity in journals and reports. */
export function payloadDigest(payload: string): string {
  return createHash('sha256').update(payload, 'utf8').digest('hex');
}

/** Serialises an envelope document for a file or an HTTP body. */
export function formatEnvelope(document: EnvelopeDocument): string {
  return `${JSON.stringify({ payload: document.payload, signatures: document.signatures }, null, 2)}\n`;
}

/**
 * Reads the outer envelope document (rule 1): size first, then JSON, then shape. The payload
 * stays an opaque string here: it is interpreted only after its signatures verified.
 */
export function parseEnvelope(input: Uint8Array | string, options: { maxBytes?: number } = {}): EnvelopeDocument {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > maxBytes) throw new MalformedEnvelopeError(`envelope is ${size} bytes, more than the limit of ${maxBytes}`);
  let text: string;
  try {
    text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch (error) {
    throw new MalformedEnvelopeError('envelope is not valid UTF-8', { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MalformedEnvelopeError(`envelope is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!isPlainObject(value)) throw new MalformedEnvelopeError('envelope: expected an object with payload and signatures');
  const unknownFields = Object.keys(value).filter((key) => key !== 'payload' && key !== 'signatures');
  if (unknownFields.length > 0) throw new MalformedEnvelopeError(`envelope: unexpected field ${unknownFields.map((f) => JSON.stringify(f)).join(', ')}`);
  const { payload, signatures } = value;
  if (typeof payload !== 'string' || payload.length === 0) throw new MalformedEnvelopeError('envelope.payload: expected a non-empty string');
  if (!Array.isArray(signatures) || signatures.length === 0) throw new MalformedEnvelopeError('envelope.signatures: expected a non-empty array of armoured signatures');
  signatures.forEach((signature: unknown, index) => {
    if (typeof signature !== 'string' || !ARMORED_SIGNATURE.test(signature)) {
      throw new MalformedEnvelopeError(`envelope.signatures[${index}]: expected an armoured PGP SIGNATURE block`);
    }
  });
  return { payload, signatures: signatures as string[] };
}

/**
 * Interprets a payload whose signatures already verified (rule 5). The payload must be the
 * canonical form of itself: a second spelling of the same JSON (duplicate keys, other spacing)
 * could be read differently by another parser than the one the operator's tools used.
 */
export function parseHeader(payload: string): EnvelopeHeader {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch (error) {
    throw new MalformedEnvelopeError(`payload is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (canonicalize(value) !== payload) throw new MalformedEnvelopeError('payload is not canonical JSON (RFC 8785)');
  if (!isPlainObject(value)) throw new MalformedEnvelopeError('payload: expected an object');
  const problems = headerProblems(value);
  if (problems.length > 0) throw new MalformedEnvelopeError(`payload: ${problems[0]}`, { details: problems });
  return value as unknown as EnvelopeHeader;
}

const HEADER_FIELDS = new Set(['format', 'type', 'box', 'tier', 'serial', 'issuedAt', 'expiresAt', 'body']);
const TIER_NAMES = new Set<string>(TIERS);

function headerProblems(header: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(header)) if (!HEADER_FIELDS.has(key)) problems.push(`unexpected field ${JSON.stringify(key)}`);
  if (header.format !== ENVELOPE_FORMAT) problems.push(`format: expected ${JSON.stringify(ENVELOPE_FORMAT)}, got ${JSON.stringify(header.format)}`);
  if (!ENVELOPE_TYPES.includes(header.type as EnvelopeType)) problems.push(`type: expected spec or job, got ${JSON.stringify(header.type)}`);
  if (typeof header.box !== 'string' || header.box.length === 0) problems.push('box: expected a non-empty string');
  if (!TIER_NAMES.has(header.tier as string)) problems.push(`tier: expected edge, host or guest, got ${JSON.stringify(header.tier)}`);
  if (!isSerial(header.serial)) problems.push(`serial: expected a positive integer, got ${JSON.stringify(header.serial)}`);
  const issuedAt = instant(header.issuedAt);
  const expiresAt = instant(header.expiresAt);
  if (issuedAt === undefined) problems.push('issuedAt: expected an ISO 8601 instant');
  if (expiresAt === undefined) problems.push('expiresAt: expected an ISO 8601 instant');
  if (issuedAt !== undefined && expiresAt !== undefined && expiresAt <= issuedAt) problems.push('expiresAt: must be later than issuedAt');
  if (!isPlainObject(header.body)) problems.push('body: expected an object');
  return problems;
}

export function isSerial(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

/** Milliseconds since the epoch of an ISO 8601 instant with an explicit zone, or undefined. */
export function instant(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

