/**
 * No plaintext secrets (docs/architecture.md#box-spec): credentials (tunnel token, storage and PBS passwords, the
 * PBS key, app passwords) are Pulumi secrets, so they are encrypted in state and masked in logs.
 * An input whose name says "credential" must be secret. Messages name the input, never its value.
 */
import { describe } from '../resources.js';
import { SECRET, type PolicyResource, type PolicyRule } from '../types.js';

/** Words that make a name a credential's name. */
const CREDENTIAL_WORDS = new Set(['password', 'passwd', 'passphrase', 'secret', 'token', 'key', 'apikey', 'apitoken', 'credential', 'credentials', 'privatekey']);
/** A last word that makes it a name *about* a credential (`tokenId`, `PASSWORD_FILE`), not one. */
const METADATA_WORDS = new Set(['id', 'ids', 'name', 'names', 'file', 'path', 'ref', 'type', 'length', 'ttl', 'hint', 'policy', 'expiry', 'expires', 'count', 'url', 'user', 'username']);

/** `encryptionKey` → [encryption, key]; `TUNNEL_TOKEN` → [tunnel, token]. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((word) => word.toLowerCase());
}

/** True for names like password, apiToken, encryptionKey, TUNNEL_TOKEN, FOO_PASSWORD. */
export function looksLikeCredential(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0 || METADATA_WORDS.has(words.at(-1)!)) return false;
  return words.some((word) => CREDENTIAL_WORDS.has(word));
}

/** A flag or a number (`1`, `true`, `off`, `30`): a setting about a credential, never one itself. */
export function isFlagValue(value: string): boolean {
  return /^(-?\d+(\.\d+)?|true|false|yes|no|on|off)$/i.test(value.trim());
}

/** `KEY=value` environment entries, as docker `envs` hold them. */
const ENV_ENTRY = /^([A-Za-z_][A-Za-z0-9_.-]*)=/;

export interface PlaintextCredential {
  /** Dotted input path, `envs[3]` or `environment.TUNNEL_TOKEN`. */
  readonly path: string;
  /** The credential's name (the key, or the env variable). */
  readonly name: string;
}

function isSecretPath(path: string, secretPaths: readonly string[]): boolean {
  return secretPaths.some((secret) => secret === '' || secret === path || path.startsWith(`${secret}.`) || path.startsWith(`${secret}[`));
}

/** Credential-named inputs of a resource that are not secrets. */
export function plaintextCredentials(resource: Pick<PolicyResource, 'inputs' | 'secretPaths'>): PlaintextCredential[] {
  const secretPaths = resource.secretPaths ?? [];
  const found: PlaintextCredential[] = [];
  const consider = (path: string, name: string, value: unknown) => {
    if (value === SECRET || isSecretPath(path, secretPaths)) return;
    // Empty, boolean and numeric values carry no secret (`password: ""` means none).
    if (typeof value !== 'string' || value === '') return;
    found.push({ path, name });
  };
  const walk = (value: unknown, path: string, key: string | undefined) => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        const itemPath = `${path}[${index}]`;
        const env = typeof item === 'string' ? ENV_ENTRY.exec(item) : null;
        const envValue = env ? (item as string).slice(env[0].length) : '';
        // `OAUTHLIB_RELAX_TOKEN_SCOPE=1` is a setting: like a boolean input, it carries no secret.
        if (env && looksLikeCredential(env[1]!)) consider(itemPath, env[1]!, envValue === '' || isFlagValue(envValue) ? '' : item);
        else walk(item, itemPath, undefined);
      });
      return;
    }
    if (value !== null && typeof value === 'object') {
      for (const [childKey, child] of Object.entries(value)) walk(child, path ? `${path}.${childKey}` : childKey, childKey);
      return;
    }
    if (key !== undefined && looksLikeCredential(key)) consider(path, key, value);
  };
  walk(resource.inputs, '', undefined);
  return found;
}

export const noPlaintextSecrets: PolicyRule = {
  name: 'no-plaintext-secrets',
  description: 'Inputs named like credentials (password, token, secret, key, apiToken, FOO_PASSWORD=...) are Pulumi secrets, never plaintext in state or logs.',
  level: 'mandatory',
  remediation: 'Give the credential to the component as a SecretRef from the spec or a pulumi.secret(...) output; for app environment use ${secret.<name>} in the manifest.',
  tiers: ['edge', 'host', 'guest'],
  needsBox: false,
  notInPack:
    '@pulumi/policy unwraps secrets before validateResource/validateStack see the inputs, so a policy cannot tell a secret from plaintext; `felhom policy check` (offline, on the mock runtime records) enforces this rule',
  checkResource(resource) {
    return plaintextCredentials(resource).map(
      ({ path, name }) => `${describe(resource)} input ${path} (${name}) is a credential in plaintext: it would be stored in clear in state and logs; pass it as a Pulumi secret (a SecretRef in the spec, pulumi.secret(), or \${secret.<name>} in an app manifest)`,
    );
  },
};
