/**
 * Envelope verification throughput, warm (keys parsed once, as the agent holds its trust
 * store): verifications per second and mean milliseconds for 1 and 3 signatures.
 * Target: under 2 ms per verification with one signature.
 */
import * as openpgp from 'openpgp';
import { createTrustStore, formatEnvelope, signEnvelope, verifyEnvelope, type TrustStore } from '../runner/envelope/index.js';

async function operatorKey(name: string): Promise<{ privateKey: openpgp.PrivateKey; publicKey: string }> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    subkeys: [{ type: 'ecc', curve: 'curve25519Legacy' }],
    userIDs: [{ name, email: `${name}@bench.example` }],
    format: 'object',
    config: { v6Keys: false },
  });
  return { privateKey, publicKey: publicKey.armor() };
}

async function measure(label: string, envelope: string, trust: TrustStore): Promise<void> {
  const options = { trust, box: 'bench-box', tier: 'host' as const, lastSerial: 1 };
  for (let i = 0; i < 300; i++) await verifyEnvelope(envelope, options);
  const rounds = 1000;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) await verifyEnvelope(envelope, options);
  const elapsedMs = performance.now() - started;
  const meanMs = elapsedMs / rounds;
  console.log(`${label}: ${(1000 / meanMs).toFixed(0)} verifications/s, ${meanMs.toFixed(3)} ms each${label.startsWith('1 ') ? ' (target < 2 ms)' : ''}`);
}

export async function run(): Promise<void> {
  const keys = await Promise.all(['a', 'b', 'c'].map(operatorKey));
  const body = { action: 'apply', reason: 'benchmark' };
  const content = { type: 'job' as const, box: 'bench-box', tier: 'host' as const, serial: 2, body };
  const one = formatEnvelope(await signEnvelope(content, keys[0]!.privateKey));
  const three = formatEnvelope(await signEnvelope(content, keys.map((key) => key.privateKey)));
  await measure('1 signature, threshold 1', one, await createTrustStore([keys[0]!.publicKey], 1));
  await measure('3 signatures, threshold 3', three, await createTrustStore(keys.map((key) => key.publicKey), 3));
}
