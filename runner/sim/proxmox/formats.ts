/**
 * The named string formats of PVE's schema (`"format": "pve-vmid"`), checked the way PVE's
 * registered format verifiers check them, with their error wording where PVE's is known.
 * apidata.js names a format but does not carry its rule, so each rule here is written from
 * PVE's documentation; a format not listed is accepted unchecked and docs/pve-simulator.md
 * says so. `*-list` formats split on PVE's list separators and check every item.
 */
import { isIP } from 'node:net';
import { FelhomError } from '../../../lib/errors.js';

/** A value does not have its format; the message is PVE's, without the trailing newline. */
export class FormatError extends FelhomError {
  constructor(message: string) {
    super('ESIM_FORMAT', 'generic', message, { fault: 'input' });
  }
}

type Verifier = (value: string) => void;

const NODE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const DNS_LABEL = '[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?';
const DNS_NAME = new RegExp(`^(${DNS_LABEL}\\.)*${DNS_LABEL}$`);
const STORAGE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
const CONFIG_ID = /^[a-z][a-z0-9_-]+$/i;
const VOLUME_ID = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i;
const TAG = /^[a-z0-9_][a-z0-9_\-+.]*$/i;
const STORAGE_CONTENT = ['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import', 'none'];
const USER_ID = /^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/;
const MAC = /^[a-f0-9]{2}(:[a-f0-9]{2}){5}$/i;
const DISK_SIZE = /^(\d+(\.\d+)?)([KMGT])?$/;

function ipv4Cidr(value: string): boolean {
  const [address, mask, ...rest] = value.split('/');
  return rest.length === 0 && isIP(address ?? '') === 4 && mask !== undefined && /^\d+$/.test(mask) && Number(mask) <= 32;
}

function ipv6Cidr(value: string): boolean {
  const [address, mask, ...rest] = value.split('/');
  return rest.length === 0 && isIP(address ?? '') === 6 && mask !== undefined && /^\d+$/.test(mask) && Number(mask) <= 128;
}

const verifiers: Record<string, Verifier> = {
  'pve-node': (v) => {
    if (!NODE.test(v)) throw new FormatError('value does not look like a valid node name');
  },
  'pve-vmid': (v) => {
    if (!/^[1-9][0-9]{2,8}$/.test(v)) throw new FormatError('value does not look like a valid VM ID');
  },
  'pve-configid': (v) => {
    if (!CONFIG_ID.test(v)) throw new FormatError(`invalid configuration ID '${v}'`);
  },
  'pve-storage-id': (v) => {
    if (!STORAGE_ID.test(v)) throw new FormatError(`storage ID '${v}' contains illegal characters`);
  },
  'pve-volume-id': (v) => {
    if (!VOLUME_ID.test(v)) throw new FormatError(`unable to parse volume ID '${v}'`);
  },
  'pve-lxc-mp-string': (v) => {
    // A volume id, a new allocation `<storage>:<GiB>`, or a host path (bind mount).
    if (!VOLUME_ID.test(v) && !v.startsWith('/')) throw new FormatError(`unable to parse volume ID '${v}'`);
  },
  'dns-name': (v) => {
    if (!DNS_NAME.test(v)) throw new FormatError(`value '${v}' does not look like a valid DNS name`);
  },
  'pve-tag': (v) => {
    if (!TAG.test(v)) throw new FormatError(`invalid tag '${v}'`);
  },
  'pve-storage-content': (v) => {
    if (!STORAGE_CONTENT.includes(v)) throw new FormatError(`invalid content type '${v}'`);
  },
  'pve-storage-path': (v) => {
    if (!/^\/[^;()]+$/.test(v)) throw new FormatError(`invalid path '${v}'`);
  },
  'pve-storage-server': (v) => {
    const host = v.replace(/^\[(.*)\]$/, '$1');
    if (!isIP(host) && !DNS_NAME.test(host)) throw new FormatError(`invalid server address '${v}'`);
  },
  'pve-storage-options': (v) => {
    if (!/^[-\w,=.:/]+$/.test(v)) throw new FormatError(`invalid options '${v}'`);
  },
  'pve-userid': (v) => {
    if (!USER_ID.test(v)) throw new FormatError(`value '${v}' does not look like a valid user name`);
  },
  'pve-roleid': (v) => {
    if (!/^[A-Za-z0-9.\-_]+$/.test(v)) throw new FormatError(`role name '${v}' contains invalid characters`);
  },
  'pve-groupid': (v) => {
    if (!/^[A-Za-z0-9.\-_]+$/.test(v)) throw new FormatError(`group name '${v}' contains invalid characters`);
  },
  'pve-tokenid': (v) => {
    if (!/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/.test(v)) throw new FormatError(`value '${v}' does not look like a valid token ID`);
  },
  'pve-realm': (v) => {
    if (!/^[A-Za-z][A-Za-z0-9.\-_]+$/.test(v)) throw new FormatError(`value '${v}' does not look like a valid realm`);
  },
  'pve-poolid': (v) => {
    if (!/^[A-Za-z0-9_\-/]+$/.test(v)) throw new FormatError(`invalid pool ID '${v}'`);
  },
  'disk-size': (v) => {
    if (!DISK_SIZE.test(v)) throw new FormatError(`unable to parse size '${v}'`);
  },
  'mac-addr': (v) => {
    if (!MAC.test(v)) throw new FormatError(`value '${v}' does not look like a valid MAC address`);
  },
  ip: (v) => {
    if (!isIP(v)) throw new FormatError(`value '${v}' is not a valid IP address`);
  },
  ipv4: (v) => {
    if (isIP(v) !== 4) throw new FormatError(`value '${v}' is not a valid IPv4 address`);
  },
  ipv6: (v) => {
    if (isIP(v) !== 6) throw new FormatError(`value '${v}' is not a valid IPv6 address`);
  },
  CIDRv4: (v) => {
    if (!ipv4Cidr(v)) throw new FormatError(`value '${v}' is not a valid IPv4 CIDR`);
  },
  CIDR: (v) => {
    if (!ipv4Cidr(v) && !ipv6Cidr(v)) throw new FormatError(`value '${v}' is not a valid CIDR`);
  },
  'pve-ipv4-config': (v) => {
    if (v !== 'dhcp' && v !== 'manual' && !ipv4Cidr(v)) throw new FormatError('invalid IPv4 configuration');
  },
  'pve-ipv6-config': (v) => {
    if (!['dhcp', 'auto', 'manual'].includes(v) && !ipv6Cidr(v)) throw new FormatError('invalid IPv6 configuration');
  },
  'pve-calendar-event': (v) => {
    // PVE parses calendar events itself; this refuses what can never be one (empty, cron lines).
    if (!/^[a-z0-9*,:./~ -]+$/i.test(v) || /^(\S+\s+){4}\S+$/.test(v)) throw new FormatError(`unable to parse calendar event '${v}'`);
  },
  'pve-day-of-week': (v) => {
    if (!['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].includes(v)) throw new FormatError(`invalid day of week '${v}'`);
  },
  'pve-bridge-id': (v) => {
    if (!/^[-_.\w\d]+$/.test(v)) throw new FormatError(`invalid bridge ID '${v}'`);
  },
  'pve-startup-order': (v) => {
    if (!/^(order=\d+|up=\d+|down=\d+)(,(order=\d+|up=\d+|down=\d+))*$/.test(v)) throw new FormatError(`unable to parse startup options '${v}'`);
  },
  'pve-task-status-type': (v) => {
    if (!['ok', 'error', 'unknown', 'warning'].includes(v)) throw new FormatError(`invalid task status type '${v}'`);
  },
  'prune-backups': (v) => {
    for (const part of v.split(',')) {
      const [key, value, ...rest] = part.split('=');
      const known = ['keep-all', 'keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly'];
      if (rest.length > 0 || !key || !known.includes(key)) throw new FormatError(`invalid key in comma-separated list property: ${key}`);
      if (!/^\d+$/.test(value ?? '')) throw new FormatError(`type check ('integer') failed - got '${value ?? ''}'`);
    }
  },
};

/** The list formats that are not `<format>-list` of a known format. */
const listAliases: Record<string, string> = {
  'pve-configid-list': 'pve-configid',
  'pve-tag-list': 'pve-tag',
  'pve-storage-content-list': 'pve-storage-content',
  'pve-day-of-week-list': 'pve-day-of-week',
  'pve-task-status-type-list': 'pve-task-status-type',
};

/** PVE's split_list: NUL-separated when the value holds a NUL, else on commas, semicolons and spaces. */
export function splitList(value: string): string[] {
  return (value.includes('\0') ? value.split('\0') : value.split(/[,;\s]+/)).filter((item) => item !== '');
}

/** The formats this module checks; any other format is accepted as it is. */
export function checkedFormats(): string[] {
  return [...Object.keys(verifiers), ...Object.keys(listAliases), ...Object.keys(verifiers).map((name) => `${name}-list`)].sort();
}

/** Throws FormatError when `value` does not have `format`. */
export function checkFormat(format: string, value: string): void {
  const list = listAliases[format] ?? (format.endsWith('-list') && verifiers[format.slice(0, -5)] ? format.slice(0, -5) : undefined);
  if (list) {
    const verify = verifiers[list]!;
    for (const item of splitList(value)) verify(item);
    return;
  }
  verifiers[format]?.(value);
}
