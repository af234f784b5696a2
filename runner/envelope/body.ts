/**
 * The checks every envelope body gets before any injected validator: the shape a spec or a
 * job must have for the runner to dispatch it. Shared by signing (refuse to sign nonsense)
 * and verifying (rule 13).
 */
import { isPlainObject, JOB_ACTIONS, type EnvelopeType, type JobAction } from './format.js';

/** Problems with `body` as an envelope of `type` for `box`, each naming the field. */
export function bodyProblems(body: Record<string, unknown>, type: EnvelopeType, box: string): string[] {
  if (type === 'spec') return specProblems(body, box);
  return jobProblems(body, box);
}

function specProblems(body: Record<string, unknown>, box: string): string[] {
  const metadata = body.metadata;
  // A spec names its box twice (header and metadata); they must agree or a spec signed for
  // one box could configure another.
  if (isPlainObject(metadata) && metadata.box !== undefined && metadata.box !== box) {
    return [`body.metadata.box: ${JSON.stringify(metadata.box)} does not match the envelope's box ${JSON.stringify(box)}`];
  }
  return [];
}

function jobProblems(body: Record<string, unknown>, box: string): string[] {
  if (!JOB_ACTIONS.includes(body.action as JobAction)) {
    return [`body.action: expected one of ${JOB_ACTIONS.join(', ')}, got ${JSON.stringify(body.action)}`];
  }
  if (body.action === 'restore') return restoreProblems(body);
  if (body.action === 'decommission') return decommissionProblems(body, box);
  if (body.action === 'key-custody') return keyCustodyProblems(body);
  if (body.action === 'apply' || body.action === 'destroy') return applyProblems(body);
  if (body.action !== 'rotate-keys') return [];
  const problems: string[] = [];
  const keys = body.keys;
  if (!Array.isArray(keys) || keys.length === 0) problems.push('body.keys: expected a non-empty array of armoured public keys');
  else keys.forEach((key, index) => {
    if (typeof key !== 'string' || !key.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) problems.push(`body.keys[${index}]: expected an armoured public key`);
  });
  const threshold = body.threshold;
  if (!Number.isSafeInteger(threshold) || (threshold as number) < 1) problems.push(`body.threshold: expected a positive integer, got ${JSON.stringify(threshold)}`);
  else if (Array.isArray(keys) && (threshold as number) > keys.length) problems.push(`body.threshold: ${threshold} is more than the ${keys.length} keys listed`);
  return problems;
}

/** A restore job may name its backup sources, in the order to try them (storage ids of the spec). */
function restoreProblems(body: Record<string, unknown>): string[] {
  const sources = body.sources;
  if (sources === undefined) return [];
  if (!Array.isArray(sources) || sources.length === 0) return [`body.sources: expected a non-empty array of storage names, got ${JSON.stringify(sources)}`];
  const problems: string[] = [];
  sources.forEach((source, index) => {
    if (typeof source !== 'string' || !/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(source)) problems.push(`body.sources[${index}]: expected a storage name, got ${JSON.stringify(source)}`);
    else if (sources.indexOf(source) !== index) problems.push(`body.sources[${index}]: ${JSON.stringify(source)} is listed twice`);
  });
  return problems;
}

/**
 * A decommission names the box it ends (`confirm`), so a job signed for the wrong box by a slip
 * cannot offboard this one; `finalBackup.storage` is a storage id of the spec.
 */
function decommissionProblems(body: Record<string, unknown>, box: string): string[] {
  const problems: string[] = [];
  if (body.confirm !== box) problems.push(`body.confirm: expected the box id ${JSON.stringify(box)} (a decommission names the box it ends), got ${JSON.stringify(body.confirm)}`);
  const finalBackup = body.finalBackup;
  if (finalBackup !== undefined && (!isPlainObject(finalBackup) || typeof finalBackup.storage !== 'string' || !/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(finalBackup.storage))) {
    problems.push(`body.finalBackup: expected { storage: <storage name> }, got ${JSON.stringify(finalBackup)}`);
  }
  return problems;
}

export const KEY_CUSTODIES: readonly string[] = ['customer-only', 'zero-knowledge-escrow', 'operator-managed'];

/** `{ action: 'key-custody', custody, operatorKeys? }`: operator keys exactly when operator-managed. */
function keyCustodyProblems(body: Record<string, unknown>): string[] {
  if (!KEY_CUSTODIES.includes(body.custody as string)) return [`body.custody: expected one of ${KEY_CUSTODIES.join(', ')}, got ${JSON.stringify(body.custody)}`];
  const keys = body.operatorKeys;
  if (body.custody !== 'operator-managed') return keys === undefined ? [] : [`body.operatorKeys: only operator-managed custody names operator keys`];
  if (!Array.isArray(keys) || keys.length === 0) return ['body.operatorKeys: operator-managed custody needs a non-empty array of armoured public keys'];
  return keys.flatMap((key, index) => (typeof key === 'string' && key.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----') ? [] : [`body.operatorKeys[${index}]: expected an armoured public key`]));
}

/** Destructive capabilities a signed apply or destroy job may grant (docs/agent.md). */
export const CAPABILITIES: readonly string[] = ['destroy', 'destroy-guest', 'destroy-storage'];

function applyProblems(body: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (body.spec !== undefined && (typeof body.spec !== 'string' || !/^[0-9a-f]{64}$/.test(body.spec))) {
    problems.push(`body.spec: expected the sha256 digest of a received spec envelope (64 hex), got ${JSON.stringify(body.spec)}`);
  }
  const capabilities = body.capabilities;
  if (capabilities !== undefined) {
    if (!Array.isArray(capabilities)) problems.push(`body.capabilities: expected a list of ${CAPABILITIES.join(', ')}`);
    else capabilities.forEach((capability, index) => {
      if (!CAPABILITIES.includes(capability as string)) problems.push(`body.capabilities[${index}]: expected one of ${CAPABILITIES.join(', ')}, got ${JSON.stringify(capability)}`);
    });
  }
  return problems;
}
