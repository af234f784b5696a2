/**
 * Argument validation shared by every component: each component declares a table of rules
 * (a condition and the message shown when it fails), checked by pure functions that need no
 * Pulumi runtime, so tests can prove every rule on its own.
 *
 * Messages say what was expected and what was given. Secrets are never echoed: rules only
 * look at plain (non-secret) fields.
 */
import { FelhomError } from '../lib/errors.js';

/** One row of a component's rule table. */
export interface Rule<A> {
  /** The argument the rule is about, as a path (`network.gateway`, `mountPoints[1].sizeGiB`). */
  readonly field: string;
  /** Returns a message when the rule is broken, `undefined` when it holds. */
  readonly check: (args: A) => string | undefined;
}

/** One broken rule, as reported by {@link ComponentArgsError}. */
export interface ArgsProblem {
  readonly field: string;
  readonly message: string;
}

/**
 * Thrown by a component's constructor when its args break one or more rules. Carries every
 * problem, not only the first, so an operator fixes a spec in one round.
 */
export class ComponentArgsError extends FelhomError {
  /** The component type token, for example `felhom:host:CustomerLxc`. */
  readonly component: string;
  /** The component's logical name. */
  readonly resourceName: string;
  readonly problems: readonly ArgsProblem[];
  constructor(component: string, resourceName: string, problems: readonly ArgsProblem[]) {
    // Invalid input: the input's fault.
    super(
      'ECOMPONENTARGS',
      'generic',
      `${component} "${resourceName}": ${problems.length} invalid argument${problems.length === 1 ? '' : 's'}: ` +
        problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      { fault: 'input' },
    );
    this.component = component;
    this.resourceName = resourceName;
    this.problems = problems;
  }
}

/** Runs every rule of a table and returns the broken ones, in table order. */
export function checkRules<A>(rules: readonly Rule<A>[], args: A): ArgsProblem[] {
  const problems: ArgsProblem[] = [];
  for (const rule of rules) {
    const message = rule.check(args);
    if (message !== undefined) problems.push({ field: rule.field, message });
  }
  return problems;
}

/** Throws a {@link ComponentArgsError} listing every broken rule; returns when all hold. */
export function assertValidArgs<A>(component: string, resourceName: string, rules: readonly Rule<A>[], args: A): void {
  const problems = checkRules(rules, args);
  if (problems.length > 0) throw new ComponentArgsError(component, resourceName, problems);
}

/** Shows a given value in a message: strings quoted, everything else as JSON. */
export function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ---- small predicates the rule tables share --------------------------------------------------

export function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/** An integer in [min, max], or a message saying what was expected and given. */
export function integerBetween(value: unknown, min: number, max: number, unit = ''): string | undefined {
  if (isInteger(value) && value >= min && value <= max) return undefined;
  const suffix = unit ? ` ${unit}` : '';
  return `expected an integer from ${min} to ${max}${suffix}, got ${shown(value)}`;
}

/** A non-empty string without surrounding whitespace. */
export function nonEmpty(value: unknown, what = 'a non-empty string'): string | undefined {
  if (typeof value === 'string' && value.length > 0 && value.trim() === value) return undefined;
  return `expected ${what}, got ${shown(value)}`;
}

const IPV4_OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);

export function isIpv4(value: unknown): value is string {
  return typeof value === 'string' && IPV4.test(value);
}

/** `192.168.1.50/24`: an IPv4 address with a prefix length from 1 to 32. */
export function isIpv4Cidr(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || prefix === undefined || !/^\d{1,2}$/.test(prefix)) return false;
  const length = Number(prefix);
  return isIpv4(address) && length >= 1 && length <= 32;
}

/** `192.168.1.50` → its 32-bit value; undefined for anything else. */
export function ipv4Value(value: unknown): number | undefined {
  if (!isIpv4(value)) return undefined;
  return value.split('.').reduce((total, octet) => total * 256 + Number(octet), 0);
}

/**
 * Why `gateway` cannot be the gateway of the static address `cidr` (`192.168.1.50/24`), or
 * undefined: it must lie inside the address's network and be neither the guest's own address
 * nor the network or broadcast address. A /31 or /32 has no room for a gateway beside the guest.
 */
export function gatewayProblem(cidr: string, gateway: string): string | undefined {
  const [address, prefixText] = cidr.split('/') as [string, string];
  const own = ipv4Value(address);
  const via = ipv4Value(gateway);
  if (own === undefined || via === undefined) return undefined; // the formats are checked on their own
  const prefix = Number(prefixText);
  if (prefix >= 31) return `a /${prefix} address has no room for a gateway beside the guest; use a wider prefix`;
  const size = 2 ** (32 - prefix);
  const network = Math.floor(own / size) * size;
  if (via === own) return `the gateway ${gateway} is the guest's own address`;
  if (Math.floor(via / size) * size !== network) return `the gateway ${gateway} is outside the guest's network ${cidrNetwork(network, prefix)}`;
  if (via === network) return `the gateway ${gateway} is the network address of ${cidrNetwork(network, prefix)}`;
  if (via === network + size - 1) return `the gateway ${gateway} is the broadcast address of ${cidrNetwork(network, prefix)}`;
  if (own === network || own === network + size - 1) return `the address ${address} is the ${own === network ? 'network' : 'broadcast'} address of ${cidrNetwork(network, prefix)}`;
  return undefined;
}

function cidrNetwork(network: number, prefix: number): string {
  return `${[24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.')}/${prefix}`;
}

/** Host directories a storage may be mounted under; anything else is a system directory. */
export const STORAGE_MOUNT_ROOTS: readonly string[] = ['/mnt/', '/media/', '/srv/'];

/** Why a host path cannot hold a storage (`/etc`, `/var/lib/vz`, `..`), or undefined. */
export function storagePathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || !path.startsWith('/')) return `expected an absolute path, got ${shown(path)}`;
  const segments = path.split('/');
  if (segments.includes('..') || segments.includes('.')) return `expected a path without "." or ".." segments, got ${shown(path)}`;
  const normalized = path.replace(/\/+/g, '/').replace(/\/$/, '');
  if (!STORAGE_MOUNT_ROOTS.some((root) => normalized.startsWith(root) && normalized.length > root.length)) {
    return `expected a mount path under ${STORAGE_MOUNT_ROOTS.map((root) => `${root}<name>`).join(', ')}, not a system directory, got ${shown(path)}`;
  }
  return undefined;
}

/** A DNS hostname (RFC 1123 labels), lower case, without a trailing dot. */
export function isHostname(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 253) return false;
  return value.split('.').every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
}

/** Proxmox storage and job ids: a letter, then letters, digits, `-`, `_`, `.`. */
export function isProxmoxId(value: unknown): value is string {
  return typeof value === 'string' && /^[a-z][a-z0-9\-_.]*$/i.test(value) && value.length <= 64;
}

/** An absolute POSIX path without `..` segments. */
export function isAbsolutePath(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('/') && !value.split('/').includes('..');
}

export { duplicates } from '../templates/lib/problems.js';
