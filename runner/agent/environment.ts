/**
 * The agent's {@link TierEnvironment}: how a tier program gets its secrets on the box.
 * `{ encrypted }` values are decrypted with the agent's private key, `{ ref: name }` values read
 * from `<state>/secrets/<name>`; the host tier's Proxmox API token is the ref `proxmox-api-token`.
 * Every secret is resolved before the engine starts (a missing one is a stalled failure with
 * its name, not an engine error half-way through), lives only in memory, reaches the program
 * only as `pulumi.secret`, and is registered with the logger's redactor.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as pulumi from '@pulumi/pulumi';
import type * as openpgp from 'openpgp';
import { decryptSecret, readPrivateKey, SecretError } from '../envelope/index.js';
import type { TierEnvironment } from '../../stacks/environment.js';
import type { SecretRef } from '../../stacks/spec/types.js';
import { AgentSetupError } from './errors.js';
import type { SecretRegistry } from './logger.js';
import { readSecretFile, type StateLayout } from './state-dir.js';

export const PROXMOX_TOKEN_REF = 'proxmox-api-token';
export const AGENT_KEY_PASSPHRASE_ENV = 'FELHOM_AGENT_KEY_PASSPHRASE';
const REF_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** Every `{ encrypted }` and `{ ref }` object in a spec body. */
export function secretReferences(value: unknown, found: SecretRef[] = []): SecretRef[] {
  if (Array.isArray(value)) {
    for (const item of value) secretReferences(item, found);
  } else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && typeof record.encrypted === 'string') found.push({ encrypted: record.encrypted });
    else if (keys.length === 1 && typeof record.ref === 'string') found.push({ ref: record.ref });
    else for (const item of Object.values(record)) secretReferences(item, found);
  }
  return found;
}

const keyOf = (reference: SecretRef) => ('ref' in reference ? `ref:${reference.ref}` : `encrypted:${reference.encrypted}`);

export interface AgentEnvironmentOptions {
  readonly layout: StateLayout;
  readonly env: NodeJS.ProcessEnv;
  readonly secrets: SecretRegistry;
  /** Also resolve the Proxmox API token (host tier). */
  readonly needsProxmoxToken: boolean;
}

/** Resolves every secret `specBody` references and returns the environment that serves them. */
export async function agentEnvironment(specBody: unknown, options: AgentEnvironmentOptions): Promise<TierEnvironment> {
  const references = secretReferences(specBody);
  if (options.needsProxmoxToken) references.push({ ref: PROXMOX_TOKEN_REF });
  const values = new Map<string, string>();
  let agentKey: openpgp.PrivateKey | undefined;
  // Every missing ref is named at once: a person puts them all in place in one go.
  const missing = await missingRefs(options.layout, references);
  if (missing.length > 0) {
    if (missing.length === 1) throw new SecretError(`secret ref ${missing[0]} is not on this box: put it in ${join(options.layout.secrets, missing[0]!)} (mode 0600)`);
    throw new SecretError(`secret refs ${missing.join(', ')} are not on this box: put each in ${join(options.layout.secrets, '<name>')} (mode 0600)`);
  }
  for (const reference of references) {
    const key = keyOf(reference);
    if (values.has(key)) continue;
    let value: string;
    if ('ref' in reference) {
      value = await readRef(options.layout, reference.ref);
    } else {
      agentKey ??= await loadAgentKey(options.layout, options.env);
      value = await decryptSecret(reference.encrypted, agentKey);
    }
    options.secrets.add(value);
    values.set(key, value);
  }
  // Loaded only when a program is about to run: an idle agent never carries the Pulumi SDK.
  const { secret } = await import('@pulumi/pulumi');
  const lookup = (reference: SecretRef): pulumi.Output<string> => {
    const value = values.get(keyOf(reference));
    if (value === undefined) throw new SecretError(`secret ${'ref' in reference ? `ref ${reference.ref}` : '(encrypted)'} was not resolved before the run`);
    return secret(value);
  };
  return {
    secret: lookup,
    ...(options.needsProxmoxToken ? { proxmoxApiToken: () => lookup({ ref: PROXMOX_TOKEN_REF }) } : {}),
  };
}

/** The distinct `{ ref }` names among `references` with no file (or an empty one) in `<state>/secrets/`. */
export async function missingRefs(layout: StateLayout, references: readonly SecretRef[]): Promise<string[]> {
  const missing: string[] = [];
  for (const reference of references) {
    if (!('ref' in reference) || missing.includes(reference.ref) || !REF_NAME.test(reference.ref)) continue;
    const value = await readSecretFile(join(layout.secrets, reference.ref)).catch(() => 'unreadable');
    if (value === undefined || value === '') missing.push(reference.ref);
  }
  return missing;
}

async function readRef(layout: StateLayout, name: string): Promise<string> {
  if (!REF_NAME.test(name)) throw new SecretError(`secret ref ${JSON.stringify(name)}: expected lower-case letters, digits, dots, dashes`);
  const value = await readSecretFile(join(layout.secrets, name));
  if (value === undefined || value === '') throw new SecretError(`secret ref ${name} is not on this box: put it in ${join(layout.secrets, name)} (mode 0600)`);
  return value;
}

/** The agent's private key, unlocked with keys/agent.key.passphrase or FELHOM_AGENT_KEY_PASSPHRASE. */
export async function loadAgentKey(layout: StateLayout, env: NodeJS.ProcessEnv): Promise<openpgp.PrivateKey> {
  let armored: string;
  try {
    armored = await readFile(layout.agentKey, 'utf8');
  } catch (error) {
    throw new AgentSetupError(`the spec holds encrypted secrets but the agent key ${layout.agentKey} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'EIO'})`, { cause: error });
  }
  const passphrase = env[AGENT_KEY_PASSPHRASE_ENV] || (await readSecretFile(layout.agentKeyPassphrase));
  if (!passphrase) throw new AgentSetupError(`no passphrase for the agent key: set ${AGENT_KEY_PASSPHRASE_ENV} or write ${layout.agentKeyPassphrase} (0600)`);
  return readPrivateKey(armored, passphrase, layout.agentKey);
}
