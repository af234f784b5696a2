/** One-time enrollment codes for tests, made as `felhom hub enroll --key` makes them. */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { HubClient } from '../../runner/hub/client.js';
import { enrollmentCodeDigest, newEnrollmentCode } from '../../runner/enrollment/code.js';
import { signEnrollmentConfig } from '../../runner/enrollment/config.js';
import type { EnrollmentCodeResponse } from '../../runner/hub/protocol.js';
import { testKeys, trustOf } from './keys.js';

export interface IssuedCode extends EnrollmentCodeResponse {
  readonly code: string;
  readonly envelope: string;
}

/**
 * Makes a code for `box` whose trust root is the first signer (alice by default), signs its
 * configuration pinning `pin` (default: the signers), and files it at the hub.
 */
export async function issueCode(
  operator: HubClient,
  box: string,
  options: { signers?: string[]; pin?: string[]; threshold?: number; ttlMs?: number; now?: Date; regenerate?: boolean } = {},
): Promise<IssuedCode> {
  const signers = await testKeys(...(options.signers ?? ['alice']));
  const trust = await trustOf(options.pin ?? options.signers ?? ['alice'], options.threshold ?? 1);
  const { code } = newEnrollmentCode(box, signers[0]!.fingerprint);
  const now = options.now ?? new Date();
  const expiresAt = new Date(now.getTime() + (options.ttlMs ?? 24 * 3600_000));
  const envelope = await signEnrollmentConfig({ box, code, trust, signingKeys: signers.map((key) => key.privateKey), codeExpiresAt: expiresAt, issuedAt: now });
  const issued = await operator.issueEnrollmentCode(box, { codeHash: enrollmentCodeDigest(code), expiresAt: expiresAt.toISOString(), envelope, regenerate: options.regenerate ?? false });
  return { ...issued, code, envelope };
}

/** A registration as a box sends it (the credential's hash and a public key). */
export async function registration(credential = 'fhb_test-credential'): Promise<{ credentialHash: string; agentPublicKey: string; credential: string }> {
  const { createHash } = await import('node:crypto');
  const [agent] = await testKeys('box-agent');
  return { credential, credentialHash: createHash('sha256').update(credential).digest('hex'), agentPublicKey: agent!.publicArmored };
}

/** A fresh empty directory removed at teardown (t.testdir() is one per test, and startTestHub already holds it). */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'felhom-enroll-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
