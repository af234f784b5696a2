/**
 * The box spec's shape (apiVersion felhom.dev/v1alpha1). The TypeScript types in types.ts
 * and this shape describe the same document; test/stacks/spec/schema.test.ts keeps the JSON
 * Schema file and docs/box-spec.md in step with it.
 */
import type { Field, ObjectShape, OneKeyShape, Shape, StringShape } from './shape.js';
import { calendarEventMessage, calendarEventProblem } from '../../components/calendar-event.js';
import { countryHint, isCountryCode } from '../../components/countries.js';
import { CUSTOMER_LXC_LIMITS } from '../../components/rules/customer-lxc.js';
import { storagePathProblem } from '../../components/validation.js';
import { armourProblem } from './armour.js';
import { API_VERSION, KIND } from './types.js';

const name = (expected: string): StringShape => ({
  kind: 'string',
  pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
  expected: `expected ${expected}: lower-case letters, digits and dashes, at most 63 characters`,
});
const text: StringShape = { kind: 'string', minLength: 1 };
const hostname: StringShape = {
  kind: 'string',
  pattern: /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
  expected: 'expected a lower-case DNS name such as photos.example.com',
};
const positive = (maximum?: number): Shape => ({ kind: 'integer', minimum: 1, ...(maximum ? { maximum } : {}) });
const count: Shape = { kind: 'integer', minimum: 0, maximum: 10000 };
const calendarEvent: StringShape = {
  kind: 'string',
  pattern: /^[a-z0-9*,./: -]{1,128}$/,
  expected: 'expected a Proxmox calendar event such as "*-*-* 02:30" or "sun 03:00"',
  // PVE's grammar, the same parser the BackupJob component applies.
  check: (value) => {
    const problem = calendarEventProblem(value);
    return problem === undefined ? undefined : calendarEventMessage(value, problem);
  },
};
/** The customer LXC's own bounds (components/rules/customer-lxc.ts), so validate and plan agree. */
const lxcBound = (limits: { min: number; max: number }): Shape => ({ kind: 'integer', minimum: limits.min, maximum: limits.max });
const required = (shape: Shape, description: string): Field => ({ shape, required: true, description });
const optional = (shape: Shape, description: string): Field => ({ shape, description });

export const secretRefShape: OneKeyShape = {
  kind: 'one-key',
  name: 'SecretRef',
  description: 'A credential: an OpenPGP message encrypted to the box agent key, or the name of a secret the agent holds.',
  scalarMessage: 'expected a secret reference { encrypted: <PGP message> } or { ref: <name> }: plaintext secrets are not allowed in a box spec',
  variants: [
    {
      kind: 'object',
      name: 'EncryptedSecret',
      fields: {
        encrypted: required(
          {
            kind: 'string',
            // The armour line by line (RFC 9580 §6.2): a header line, optional armour headers, a
            // blank line, base64 lines without spaces, an optional checksum, the footer. A message
            // pasted into a YAML double-quoted string has its lines folded into spaces and fails
            // here, at validate time, not at decryption on the box (docs/operator-guide.md §3).
            pattern: /^-----BEGIN PGP MESSAGE-----\r?\n(?:[A-Za-z][A-Za-z-]*: [^\r\n]*\r?\n)*\r?\n(?:[A-Za-z0-9+/]{1,96}={0,2}\r?\n)+(?:=[A-Za-z0-9+/]{4}\r?\n)?-----END PGP MESSAGE-----\r?\n?$/,
            expected: 'expected an armoured OpenPGP message, one line per armour line (felhom secrets encrypt; in YAML use a block scalar: encrypted: |)',
            check: armourProblem,
          },
          'Armoured OpenPGP message encrypted to the box agent key.',
        ),
      },
    },
    {
      kind: 'object',
      name: 'SecretReference',
      fields: { ref: required(name('a secret name'), 'Name of a secret in the agent\'s local key store.') },
    },
  ],
};

const retentionShape: ObjectShape = {
  kind: 'object',
  name: 'Retention',
  description: 'How many backups to keep; at least one keep-* field.',
  fields: {
    keepLast: optional(count, 'Keep the newest N backups.'),
    keepHourly: optional(count, 'Keep one backup per hour for N hours.'),
    keepDaily: optional(count, 'Keep one backup per day for N days.'),
    keepWeekly: optional(count, 'Keep one backup per week for N weeks.'),
    keepMonthly: optional(count, 'Keep one backup per month for N months.'),
    keepYearly: optional(count, 'Keep one backup per year for N years.'),
  },
};

const storageCommon: Record<string, Field> = {
  name: required(name('a Proxmox storage id'), 'Proxmox storage id, unique on the host.'),
  class: required({ kind: 'string', enum: ['fast', 'slow'] }, 'fast (SSD/NVMe) or slow (USB disk, spinning NAS), set once at attach.'),
  iops: optional(positive(10_000_000), 'Rough random IOPS, recorded with the class.'),
  roles: required(
    { kind: 'array', items: { kind: 'string', enum: ['bulk', 'backup', 'rootfs', 'templates'] }, minItems: 1, unique: true },
    'What the storage is for: bulk, backup, rootfs, templates.',
  ),
};

const storageShape: Shape = {
  kind: 'tagged',
  tag: 'type',
  variants: {
    dir: {
      kind: 'object',
      name: 'DirStorage',
      description: 'A local disk mounted on the host by filesystem UUID.',
      fields: {
        type: required({ kind: 'const', value: 'dir' }, 'dir, nfs, cifs or pbs.'),
        ...storageCommon,
        identity: required(
          { kind: 'string', pattern: /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}|[0-9a-fA-F]{16})$/, expected: 'expected a filesystem UUID (blkid)' },
          'Durable identity: the filesystem UUID (dir), server:/export (nfs), //server/share (cifs), or server+datastore+fingerprint (pbs).',
        ),
        path: optional(
          { kind: 'string', pattern: /^\/[A-Za-z0-9._/-]+$/, expected: 'expected an absolute path', check: storagePathProblem },
          'Mount path on the host, under /mnt, /media or /srv; default /mnt/felhom/<name>.',
        ),
      },
    },
    nfs: {
      kind: 'object',
      name: 'NfsStorage',
      description: 'An NFS export.',
      fields: {
        type: required({ kind: 'const', value: 'nfs' }, 'dir, nfs, cifs or pbs.'),
        ...storageCommon,
        identity: required({ kind: 'string', pattern: /^[A-Za-z0-9.-]+:\/[^\s]*$/, expected: 'expected server:/export' }, 'Durable identity.'),
        options: optional({ kind: 'string', pattern: /^[A-Za-z0-9=,.]+$/, expected: 'expected NFS mount options such as vers=4.2' }, 'NFS mount options; default vers=4.2.'),
      },
    },
    cifs: {
      kind: 'object',
      name: 'CifsStorage',
      description: 'An SMB/CIFS share.',
      fields: {
        type: required({ kind: 'const', value: 'cifs' }, 'dir, nfs, cifs or pbs.'),
        ...storageCommon,
        identity: required({ kind: 'string', pattern: /^\/\/[A-Za-z0-9.-]+\/[^\s/][^\s]*$/, expected: 'expected //server/share' }, 'Durable identity.'),
        username: required(text, 'SMB user name.'),
        password: required(secretRefShape, 'SMB password, as a secret reference.'),
        domain: optional(text, 'SMB domain.'),
      },
    },
    pbs: {
      kind: 'object',
      name: 'PbsStorage',
      description: 'A Proxmox Backup Server datastore: the offsite tier.',
      fields: {
        type: required({ kind: 'const', value: 'pbs' }, 'dir, nfs, cifs or pbs.'),
        ...storageCommon,
        identity: required(
          {
            kind: 'object',
            name: 'PbsIdentity',
            fields: {
              server: required({ kind: 'string', pattern: /^[A-Za-z0-9.-]+$/, expected: 'expected a host name or address' }, 'PBS host.'),
              datastore: required(name('a datastore name'), 'PBS datastore.'),
              fingerprint: required(
                { kind: 'string', pattern: /^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, expected: 'expected a SHA-256 fingerprint as 32 colon-separated hex pairs' },
                'Server certificate fingerprint.',
              ),
            },
          },
          'Durable identity.',
        ),
        namespace: optional({ kind: 'string', pattern: /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+){0,7}$/, expected: 'expected a PBS namespace such as customers/c-1042' }, 'Per-customer namespace; default customers/<customer>.'),
        username: required({ kind: 'string', pattern: /^[^\s@]+@[A-Za-z0-9.-]+(![A-Za-z0-9._-]+)?$/, expected: 'expected user@realm or user@realm!token' }, 'PBS user (with realm, optionally a token).'),
        password: required(secretRefShape, 'PBS password or token secret.'),
        encryptionKey: required(secretRefShape, 'PBS client-side encryption keyfile.'),
      },
    },
  },
};

const guestShape: ObjectShape = {
  kind: 'object',
  name: 'Guest',
  fields: {
    name: required(name('a guest name'), 'Guest name and hostname.'),
    vmId: required({ kind: 'integer', minimum: 100, maximum: 999_999_999 }, 'Proxmox VM id, unique on the host.'),
    cores: optional(lxcBound(CUSTOMER_LXC_LIMITS.cores), 'CPU cores; default 2.'),
    memoryMiB: optional(lxcBound(CUSTOMER_LXC_LIMITS.memoryMiB), 'Memory in MiB; default 4096; at least the sum of its apps\' minMemoryMiB.'),
    swapMiB: optional(lxcBound(CUSTOMER_LXC_LIMITS.swapMiB), 'Swap in MiB; default 512.'),
    diskGiB: optional(lxcBound(CUSTOMER_LXC_LIMITS.diskGiB), 'Root filesystem size in GiB; default 32.'),
    network: optional(
      {
        kind: 'object',
        name: 'GuestNetwork',
        fields: {
          bridge: optional({ kind: 'string', pattern: /^[A-Za-z0-9_.-]{1,15}$/, expected: 'expected a bridge name such as vmbr0' }, 'Host bridge; default vmbr0.'),
          ipv4: optional(
            { kind: 'string', pattern: /^(dhcp|((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)\/(3[0-2]|[12]?\d))$/, expected: 'expected dhcp or a CIDR address such as 192.168.1.50/24' },
            'dhcp or a CIDR address; default dhcp.',
          ),
          gateway: optional({ kind: 'string', pattern: /^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$/, expected: 'expected an IPv4 address' }, 'IPv4 gateway; required with a static address.'),
          vlan: optional(positive(4094), 'VLAN tag; default untagged.'),
        },
      },
      'Guest network.',
    ),
    mounts: optional(
      {
        kind: 'array',
        maxItems: CUSTOMER_LXC_LIMITS.mountPoints,
        items: {
          kind: 'object',
          name: 'GuestMount',
          fields: {
            storage: required(name('a storage name'), 'A manifest storage with the bulk role.'),
            sizeGiB: required(positive(1_048_576), 'Mount point size in GiB.'),
            backup: optional({ kind: 'boolean' }, 'Include in the guest vzdump; default false.'),
          },
        },
      },
      'Bulk storages mounted at /mnt/bulk/<storage>.',
    ),
    tags: optional({ kind: 'array', items: name('a tag'), unique: true }, 'Extra Proxmox tags.'),
  },
};

const appShape: ObjectShape = {
  kind: 'object',
  name: 'App',
  fields: {
    name: required(name('an app instance name'), 'Instance name, unique in the spec.'),
    template: required(name('a catalog app name'), 'Catalog app (templates/apps/<template>).'),
    guest: optional(name('a guest name'), 'Guest that runs it; default the first guest.'),
    hostname: optional(hostname, 'Public hostname inside the domain; default <name>.<domain>.'),
    parameters: optional({ kind: 'record', keyPattern: /^[A-Za-z][A-Za-z0-9_-]*$/, keyExpected: 'expected a parameter name (letters, digits, dashes and underscores)', values: { kind: 'scalar' } }, 'Values for the manifest parameters.'),
    volumes: optional(
      {
        kind: 'record',
        keyPattern: /^[a-z0-9][a-z0-9-]*$/,
        keyExpected: 'expected a manifest volume name',
        values: {
          kind: 'object',
          name: 'VolumePlacement',
          fields: { storage: required(name('a storage name'), 'A bulk storage mounted in the guest, or rootfs.') },
        },
      },
      'Per-volume placement overrides.',
    ),
  },
};

const backupJobShape: ObjectShape = {
  kind: 'object',
  name: 'BackupJob',
  fields: {
    name: required(name('a job name'), 'Job name, unique in the spec.'),
    storage: required(name('a storage name'), 'A storage with the backup role.'),
    schedule: required(calendarEvent, 'Proxmox calendar event.'),
    guests: optional({ kind: 'array', items: name('a guest name'), minItems: 1, unique: true }, 'Guests to back up; default every guest.'),
    mode: optional({ kind: 'string', enum: ['snapshot', 'suspend', 'stop'] }, 'vzdump mode; default snapshot.'),
    retention: required(retentionShape, 'How many backups to keep.'),
  },
};

export const boxSpecShape: ObjectShape = {
  kind: 'object',
  name: 'BoxSpec',
  description: 'A Felhom box spec: the declarative part of the hub customer record.',
  fields: {
    apiVersion: required({ kind: 'const', value: API_VERSION }, `Schema version; ${API_VERSION}.`),
    kind: required({ kind: 'const', value: KIND }, `Document kind; ${KIND}.`),
    metadata: required(
      {
        kind: 'object',
        name: 'Metadata',
        fields: {
          box: required(name('a box id'), 'Box id; stacks are named <box>.<tier>.'),
          customer: required(name('a customer id'), 'Hub customer id.'),
          labels: optional({ kind: 'record', keyPattern: /^[a-z0-9][a-z0-9._-]*$/, keyExpected: 'expected a label name', values: { kind: 'string', maxLength: 63 } }, 'Free-form labels.'),
        },
      },
      'Who the box is.',
    ),
    spec: required(
      {
        kind: 'object',
        name: 'BoxBody',
        fields: {
          domain: required(hostname, 'Customer domain.'),
          environment: optional({ kind: 'string', enum: ['production', 'lab'] }, 'production or lab; default production.'),
          host: required(
            {
              kind: 'object',
              name: 'Host',
              fields: {
                node: required({ kind: 'string', pattern: /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, expected: 'expected a Proxmox node name' }, 'Proxmox node name.'),
                endpoint: optional({ kind: 'string', pattern: /^https:\/\/[A-Za-z0-9.[\]:-]+(:\d+)?\/?$/, expected: 'expected an https:// URL' }, 'Proxmox API endpoint; default https://127.0.0.1:8006/.'),
                rootStorage: optional(name('a storage id'), 'Fast storage for guest root filesystems; default local-lvm.'),
                templateStorage: optional(name('a storage id'), 'Storage holding container templates; default local.'),
                rootStorageIops: optional(positive(10_000_000), 'Rough IOPS of the root storage; default 10000.'),
              },
            },
            'The Proxmox host.',
          ),
          guests: required({ kind: 'array', items: guestShape, minItems: 1 }, 'Customer LXCs.'),
          storage: optional({ kind: 'array', items: storageShape }, 'Storage manifest.'),
          backup: required(
            {
              kind: 'object',
              name: 'Backup',
              fields: {
                keyCustody: optional({ kind: 'string', enum: ['customer-only', 'zero-knowledge-escrow', 'operator-managed'] }, 'Who can open the offsite key; default zero-knowledge-escrow.'),
                keyCustodyOperators: optional(
                  { kind: 'array', items: { kind: 'string', pattern: /^[0-9A-F]{40}$/, expected: 'expected an OpenPGP fingerprint: 40 upper-case hex digits' }, minItems: 1, unique: true },
                  'With operator-managed custody: the OpenPGP fingerprints of the operator keys that can unwrap the escrowed key.',
                ),
                jobs: required({ kind: 'array', items: backupJobShape }, 'Guest backup jobs.'),
                snapshotBeforeDeploy: optional({ kind: 'boolean' }, 'Snapshot before each deploy; default true.'),
                bulk: optional(
                  {
                    kind: 'object',
                    name: 'BulkBackup',
                    fields: {
                      storage: required(name('a storage name'), 'A storage with the backup role.'),
                      schedule: required(calendarEvent, 'Calendar event.'),
                      retention: required(retentionShape, 'How many copies to keep.'),
                    },
                  },
                  'File-level backup of bulk volumes.',
                ),
              },
            },
            'Backup tiers and key custody.',
          ),
          apps: optional({ kind: 'array', items: appShape }, 'App inventory.'),
          edge: required(
            {
              kind: 'object',
              name: 'Edge',
              fields: {
                cloudflare: required(
                  {
                    kind: 'object',
                    name: 'Cloudflare',
                    fields: {
                      accountId: required({ kind: 'string', pattern: /^[0-9a-f]{32}$/, expected: 'expected a 32-character hex Cloudflare account id' }, 'Cloudflare account id.'),
                      zoneId: required({ kind: 'string', pattern: /^[0-9a-f]{32}$/, expected: 'expected a 32-character hex Cloudflare zone id' }, 'Cloudflare zone id.'),
                    },
                  },
                  'Cloudflare account and zone.',
                ),
                tunnel: optional(
                  {
                    kind: 'object',
                    name: 'Tunnel',
                    fields: {
                      name: optional({ kind: 'string', pattern: /^[A-Za-z0-9._-]{1,63}$/, expected: 'expected a tunnel name' }, 'Tunnel name; default felhom-<box>.'),
                      token: optional(secretRefShape, 'Tunnel token for the host cloudflared, from the hub record.'),
                    },
                  },
                  'Cloudflare Tunnel.',
                ),
                controllerHostname: optional(hostname, 'Controller UI hostname; default controller.<domain>.'),
                geo: optional(
                  {
                    kind: 'object',
                    name: 'Geo',
                    fields: {
                      mode: required({ kind: 'string', enum: ['allow', 'deny'] }, 'allow-list or deny-list.'),
                      countries: required(
                        {
                          kind: 'array',
                          items: {
                            kind: 'string',
                            pattern: /^[A-Z]{2}$/,
                            expected: 'expected an ISO 3166-1 alpha-2 country code such as HU',
                            check: (code) => (isCountryCode(code) ? undefined : `expected an ISO 3166-1 alpha-2 country code such as HU: "${code}" is ${countryHint(code)}`),
                          },
                          minItems: 1,
                          unique: true,
                        },
                        'Country codes.',
                      ),
                      exemptHostnames: optional({ kind: 'array', items: hostname, unique: true }, 'Hostnames exempt from the rule.'),
                    },
                  },
                  'Geo restriction.',
                ),
              },
            },
            'Edge settings.',
          ),
          policy: optional(
            {
              kind: 'object',
              name: 'Policy',
              fields: {
                advisory: optional({ kind: 'array', items: name('a rule name'), unique: true }, 'Mandatory rules downgraded to advisory.'),
              },
            },
            'Per-box policy settings.',
          ),
        },
      },
      'What the box should be.',
    ),
  },
};
