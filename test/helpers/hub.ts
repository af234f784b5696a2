/** Shared fixtures for the hub tests: envelopes with a routing header and a running hub. */
import canonicalize from 'canonicalize';
import type { Test } from 'tap';
import type { Tier } from '../../stacks/spec/types.js';
import { auditEntryHash, GENESIS_HASH, type AuditEntry } from '../../runner/state/audit.js';
import { HubClient } from '../../runner/hub/client.js';
import { startHub, type RunningHub } from '../../hub/server.js';

export interface EnvelopeFields {
  type?: 'spec' | 'job';
  box?: string;
  tier?: Tier;
  serial?: number;
  body?: unknown;
}

/**
 * An envelope file as the operator publishes it. The signature is a placeholder: the hub treats
 * envelopes as opaque and never verifies them (the box does, in runner/envelope/).
 */
export function makeEnvelope(fields: EnvelopeFields = {}): string {
  const payload = {
    type: fields.type ?? 'spec',
    box: fields.box ?? 'box-1',
    tier: fields.tier ?? 'host',
    serial: fields.serial ?? 1,
    issuedAt: '2026-06-01T00:00:00.000Z',
    expiresAt: '2026-07-01T00:00:00.000Z',
    body: fields.body ?? { note: `serial ${fields.serial ?? 1}` },
  };
  return JSON.stringify({ payload: canonicalize(payload), signatures: ['-----BEGIN PGP SIGNATURE-----\n\nplaceholder\n-----END PGP SIGNATURE-----\n'] });
}

export const OPERATOR_TOKEN = 'operator-token-for-tests';

export interface TestHub {
  readonly hub: RunningHub;
  readonly dataDir: string;
  readonly operator: HubClient;
  /** Enrolls `box` and returns a client holding its API key. */
  enroll(box: string): Promise<HubClient>;
}

export async function startTestHub(t: Test, options: { dataDir?: string; maxWaitSeconds?: number; maxBodyBytes?: number; engineMirrorDir?: string; clock?: () => Date; database?: string } = {}): Promise<TestHub> {
  const dataDir = options.dataDir ?? t.testdir();
  const hub = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN, ...options });
  t.teardown(() => hub.close());
  const operator = new HubClient({ url: hub.url, token: OPERATOR_TOKEN, timeoutMs: 10_000 });
  return {
    hub,
    dataDir,
    operator,
    enroll: async (box) => {
      const { apiKey } = await operator.enrollBox(box);
      return new HubClient({ url: hub.url, token: apiKey, timeoutMs: 10_000 });
    },
  };
}

/** `count` audit entries of `box`, hash-chained from seq `from` onto `prevHash`, as an agent's log holds them. */
export function auditChain(box: string, count: number, from = 1, prevHash = GENESIS_HASH): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (let seq = from; seq < from + count; seq++) {
    const unsigned = { seq, time: new Date(Date.UTC(2026, 5, 1, 0, 0, seq)).toISOString(), actor: 'agent', action: 'spec.apply', box, tier: 'host' as const, envelopeDigest: null, outcome: 'succeeded' as const, prevHash: entries.at(-1)?.hash ?? prevHash };
    entries.push({ ...unsigned, hash: auditEntryHash(unsigned) });
  }
  return entries;
}
