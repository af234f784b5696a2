/**
 * Reads the routing header (type, box, tier, serial) from an envelope file, for the hub.
 *
 * The hub does not verify signatures and must not trust what it reads here: it uses these
 * fields only to decide where to file the envelope, and serves the envelope's bytes unchanged.
 * The box re-reads and verifies everything (runner/envelope/).
 */
import { isPlainObject } from '../templates/lib/problems.js';
import { TIERS, type Tier } from '../stacks/spec/types.js';
import { payloadDigest } from '../runner/envelope/format.js';
import { BOX_ID_PATTERN, type EnvelopeType } from '../runner/hub/protocol.js';
import { FelhomError } from '../lib/errors.js';

export interface RoutingHeader {
  readonly type: EnvelopeType;
  readonly box: string;
  readonly tier: Tier;
  readonly serial: number;
  /** sha256 hex of the payload string's UTF-8 bytes: the envelope's identity in journals and reports. */
  readonly payloadDigest: string;
}

/** The envelope cannot be routed; `field` names what is wrong. */
export class EnvelopeRoutingError extends FelhomError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('EENVELOPE_MALFORMED', 'generic', `${field}: ${message}`, { fault: 'input' });
    this.field = field;
  }
}


/** Parses `{ "payload": "<canonical JSON>", "signatures": [...] }` far enough to route it. */
export function readRoutingHeader(envelopeText: string): RoutingHeader {
  let envelope: unknown;
  try {
    envelope = JSON.parse(envelopeText);
  } catch {
    throw new EnvelopeRoutingError('envelope', 'expected a JSON document');
  }
  if (!isPlainObject(envelope)) throw new EnvelopeRoutingError('envelope', 'expected a JSON object');
  if (typeof envelope.payload !== 'string') throw new EnvelopeRoutingError('envelope.payload', 'expected a string holding the canonical JSON payload');
  if (!Array.isArray(envelope.signatures) || !envelope.signatures.every((s) => typeof s === 'string')) {
    throw new EnvelopeRoutingError('envelope.signatures', 'expected an array of armoured signatures');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(envelope.payload);
  } catch {
    throw new EnvelopeRoutingError('envelope.payload', 'expected JSON inside the payload string');
  }
  if (!isPlainObject(payload)) throw new EnvelopeRoutingError('payload', 'expected a JSON object');
  const { type, box, tier, serial } = payload;
  if (type !== 'spec' && type !== 'job') throw new EnvelopeRoutingError('payload.type', `expected spec or job, got ${JSON.stringify(type)}`);
  if (typeof box !== 'string' || !BOX_ID_PATTERN.test(box)) throw new EnvelopeRoutingError('payload.box', `expected a box id (lower-case letters, digits, dashes), got ${JSON.stringify(box)}`);
  if (typeof tier !== 'string' || !TIERS.includes(tier as Tier)) throw new EnvelopeRoutingError('payload.tier', `expected one of ${TIERS.join(', ')}, got ${JSON.stringify(tier)}`);
  if (typeof serial !== 'number' || !Number.isSafeInteger(serial) || serial < 1) throw new EnvelopeRoutingError('payload.serial', `expected a positive integer, got ${JSON.stringify(serial)}`);
  return { type, box, tier: tier as Tier, serial, payloadDigest: payloadDigest(envelope.payload) };
}
