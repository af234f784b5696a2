/**
 * What the rules know about resource types and input shapes. Input names come from the
 * provider SDKs the components use (read them off `felhom plan --json`), kept here so a
 * provider rename is fixed in one place.
 */
import { SECRET, UNKNOWN, type PolicyResource } from './types.js';

export const TYPES = {
  customerLxc: 'felhom:host:CustomerLxc',
  storageTarget: 'felhom:host:StorageTarget',
  traefik: 'felhom:guest:Traefik',
  appStack: 'felhom:guest:AppStack',
  dockerContainer: 'docker:index/container:Container',
  dockerImage: 'docker:index/remoteImage:RemoteImage',
  backupJob: 'proxmoxve:backup/job:Job',
  pbsStorage: 'proxmoxve:storage/pbs:Pbs',
  dnsRecord: 'cloudflare:index/dnsRecord:DnsRecord',
  tunnelConfig: 'cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig',
  ruleset: 'cloudflare:index/ruleset:Ruleset',
} as const;

/** The provider's LXC resource, legacy or current. */
export function isLxcContainer(type: string): boolean {
  return /^proxmoxve:index\/container(Legacy)?:Container(Legacy)?$/.test(type);
}

/** A Proxmox storage definition (`proxmoxve:storage/<kind>:<Kind>`). */
export function isProxmoxStorage(type: string): boolean {
  return type.startsWith('proxmoxve:storage/');
}

/**
 * The package a type token belongs to: `proxmoxve` for `proxmoxve:index/...` and for the
 * provider resource `pulumi:providers:proxmoxve`; `felhom` for components.
 */
export function packageOf(type: string): string {
  const parts = type.split(':');
  if (parts[0] === 'pulumi' && parts[1] === 'providers') return parts[2] ?? '';
  return parts[0] ?? '';
}

export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** A value a rule can compare: not unknown, not masked. */
export function isKnown(value: unknown): boolean {
  return value !== undefined && value !== UNKNOWN && value !== SECRET;
}

/** `inputs.a.b[2].c` by a path of keys and indexes. */
export function valueAt(inputs: unknown, path: readonly (string | number)[]): unknown {
  let current: unknown = inputs;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** How a resource is named in messages: `docker:index/container:Container "cloud-app"`. */
export function describe(resource: Pick<PolicyResource, 'type' | 'name'>): string {
  return `${resource.type} "${resource.name}"`;
}

export function quoted(values: readonly unknown[]): string {
  return values.map((value) => JSON.stringify(value)).join(', ');
}

/** The Docker labels of a container or network: `[{ label, value }]` → map. */
export function dockerLabels(resource: PolicyResource): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of asArray(resource.inputs.labels)) {
    const { label, value } = asRecord(entry);
    if (typeof label === 'string' && typeof value === 'string') labels[label] = value;
  }
  return labels;
}

/** `Host(\`a.example.com\`) && PathPrefix(...)` → ['a.example.com']. */
export function traefikHosts(rule: string): string[] {
  return [...rule.matchAll(/Host\(`([^`]*)`\)/g)].map((match) => match[1]!);
}

export function inDomain(hostname: string, domain: string): boolean {
  return hostname === domain || hostname.endsWith(`.${domain}`);
}
