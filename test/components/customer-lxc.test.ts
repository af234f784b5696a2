import t from 'tap';
import type * as pulumi from '@pulumi/pulumi';
import { argsErrorFrom, mockProvider, mocks, promiseOf } from '../helpers/mocks.js';
import {
  CUSTOMER_LXC_IGNORED_CHANGES,
  CustomerLxc,
  customerLxcRules,
  staticIpv4Address,
  type CustomerLxcArgs,
} from '../../components/customer-lxc.js';
import { checkRules } from '../../components/validation.js';

const CONTAINER = 'proxmoxve:index/containerLegacy:ContainerLegacy';

const baseArgs: CustomerLxcArgs = {
  node: 'pve',
  vmId: 120,
  hostname: 'cust-0001',
  osTemplateFileId: 'local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst',
};

/** A modifier helper: the base args with some fields changed. */
function withArgs(patch: Partial<CustomerLxcArgs>): CustomerLxcArgs {
  return { ...baseArgs, ...patch };
}

t.beforeEach(() => mocks.reset());

t.test('given minimal args, the container is created Docker-ready with the golden defaults', async (t) => {
  const lxc = new CustomerLxc('cust', baseArgs);
  await mocks.settle();

  t.same(mocks.inventory(), ['felhom:host:CustomerLxc::cust', `${CONTAINER}::cust-container`], 'the component and exactly one container');
  const ct = mocks.one(CONTAINER, 'cust-container');
  t.equal(ct.parent, mocks.one('felhom:host:CustomerLxc', 'cust').urn, 'the container is a child of the component');
  t.match(ct.inputs, {
    nodeName: 'pve',
    vmId: 120,
    unprivileged: true,
    features: { nesting: true, keyctl: false, fuse: false },
    operatingSystem: { templateFileId: baseArgs.osTemplateFileId, type: 'debian' },
    cpu: { cores: 2 },
    memory: { dedicated: 4096, swap: 512 },
    disk: { datastoreId: 'local-lvm', size: 32 },
    startOnBoot: true,
    tags: ['felhom'],
    networkInterfaces: [{ name: 'eth0', bridge: 'vmbr0' }],
    initialization: { hostname: 'cust-0001', ipConfigs: [{ ipv4: { address: 'dhcp' } }] },
  });
  t.same(ct.inputs.mountPoints, [], 'no mount points by default');
  t.equal(await promiseOf(lxc.vmId), 120);
  t.equal(await promiseOf(lxc.hostname), 'cust-0001');
  t.equal(await promiseOf(lxc.ipv4), undefined, 'no static address with DHCP');
  t.equal(await promiseOf(lxc.containerId), 'cust-container-id');
});

t.test('the container is guarded against destruction and replacement by default', async (t) => {
  new CustomerLxc('cust', baseArgs);
  await mocks.settle();
  const ct = mocks.one(CONTAINER);
  t.equal(ct.protect, true, 'Pulumi protect is on');
  t.equal(ct.inputs.protection, true, 'the Proxmox protection flag is on');
  t.equal(ct.deleteBeforeReplace, false, 'a replacement never deletes the old guest first');
  t.same(ct.ignoreChanges, [...CUSTOMER_LXC_IGNORED_CHANGES]);
  t.ok(ct.ignoreChanges.includes('operatingSystem'), 'a new golden template does not recreate existing guests');
  t.ok(ct.ignoreChanges.includes('mountPoints[*].size'), 'growing a bulk mount point does not recreate the guest');
});

t.test('allowDestroy turns both guards off for decommissioning', async (t) => {
  new CustomerLxc('cust', withArgs({ allowDestroy: true }));
  await mocks.settle();
  const ct = mocks.one(CONTAINER);
  t.equal(ct.protect, false);
  t.equal(ct.inputs.protection, false);
  t.equal(ct.deleteBeforeReplace, false, 'still never delete-before-replace');
});

t.test('given sizing, a static address and bulk mounts, they reach the container', async (t) => {
  const lxc = new CustomerLxc(
    'cust',
    withArgs({
      cores: 4,
      memoryMiB: 8192,
      swapMiB: 0,
      rootStorage: 'nvme',
      diskGiB: 64,
      network: { bridge: 'vmbr1', ipv4: '192.168.1.50/24', gateway: '192.168.1.1', vlan: 20 },
      mountPoints: [
        { storage: 'usb1', sizeGiB: 500 },
        { storage: 'nas', sizeGiB: 100, path: '/srv/nas', backup: true },
      ],
      tags: ['felhom', 'hb-0001', 'cust-0001'],
      description: 'Customer 0001',
      startOnBoot: false,
    }),
  );
  await mocks.settle();
  const ct = mocks.one(CONTAINER);
  t.match(ct.inputs, {
    cpu: { cores: 4 },
    memory: { dedicated: 8192, swap: 0 },
    disk: { datastoreId: 'nvme', size: 64 },
    networkInterfaces: [{ name: 'eth0', bridge: 'vmbr1', vlanId: 20 }],
    initialization: { ipConfigs: [{ ipv4: { address: '192.168.1.50/24', gateway: '192.168.1.1' } }] },
    tags: ['felhom', 'hb-0001', 'cust-0001'],
    description: 'Customer 0001',
    startOnBoot: false,
  });
  t.same(ct.inputs.mountPoints, [
    { volume: 'usb1', size: '500G', path: '/mnt/bulk/usb1', backup: false },
    { volume: 'nas', size: '100G', path: '/srv/nas', backup: true },
  ], 'bulk mounts default to /mnt/bulk/<storage> and are out of the vzdump backup');
  t.equal(await promiseOf(lxc.ipv4), '192.168.1.50', 'the static address, without prefix length');
});

t.test('adoptExisting adopts the restored container by its <node>/<vmId> import id', async (t) => {
  new CustomerLxc('cust', withArgs({ adoptExisting: true }));
  await mocks.settle();
  const ct = mocks.one(CONTAINER);
  t.equal(ct.importId, 'pve/120', 'the container imports pve/120');
  t.equal(ct.protect, true, 'an adopted container is guarded like a created one');
  t.match(ct.inputs, { nodeName: 'pve', vmId: 120, protection: true }, 'the same inputs: the up manages it from here on');
});

t.test('without adoptExisting the container is created, never imported', async (t) => {
  new CustomerLxc('cust', baseArgs);
  await mocks.settle();
  t.equal(mocks.one(CONTAINER).importId, undefined, 'no import id');
});

t.test('a provider given in the options reaches the container', async (t) => {
  const provider = mockProvider('proxmoxve');
  new CustomerLxc('cust', baseArgs, { providers: [provider] });
  await mocks.settle();
  t.match(mocks.one(CONTAINER).provider, /pulumi:providers:proxmoxve::proxmoxve-provider::/);
});

t.test('staticIpv4Address strips the prefix length and ignores DHCP', async (t) => {
  t.equal(staticIpv4Address('10.0.0.5/8'), '10.0.0.5');
  t.equal(staticIpv4Address('dhcp'), undefined);
  t.equal(staticIpv4Address(undefined), undefined);
});

// One row per rule: the args that break it, the field named, and words the message must carry.
const broken: [string, Partial<CustomerLxcArgs>, string, RegExp][] = [
  ['an empty node', { node: '' }, 'node', /Proxmox node name, got ""/],
  ['a VM id below 100', { vmId: 99 }, 'vmId', /from 100 to 999999999, got 99/],
  ['an upper-case hostname', { hostname: 'Cust_1' }, 'hostname', /DNS hostname.*got "Cust_1"/],
  ['a template outside vztmpl', { osTemplateFileId: 'local:iso/debian.iso' }, 'osTemplateFileId', /<storage>:vztmpl\/<file>/],
  ['zero cores', { cores: 0 }, 'cores', /from 1 to 128 cores, got 0/],
  ['too little memory', { memoryMiB: 128 }, 'memoryMiB', /from 512 .* MiB, got 128/],
  ['negative swap', { swapMiB: -1 }, 'swapMiB', /got -1/],
  ['a bad root storage', { rootStorage: 'local lvm' }, 'rootStorage', /storage id, got "local lvm"/],
  ['a tiny root disk', { diskGiB: 4 }, 'diskGiB', /from 8 .* GiB, got 4/],
  ['a privileged container', { unprivileged: false }, 'unprivileged', /unprivileged.*got false/],
  ['nesting off', { features: { nesting: false } }, 'features.nesting', /nesting on/],
  ['keyctl on', { features: { keyctl: true } }, 'features.keyctl', /keyctl off: PVE lets only root@pam set it/],
  ['a zero-size mount', { mountPoints: [{ storage: 'usb1', sizeGiB: 0 }] }, 'mountPoints', /\[0\]\.sizeGiB: expected an integer from 1/],
  ['a relative mount path', { mountPoints: [{ storage: 'usb1', sizeGiB: 1, path: 'data' }] }, 'mountPoints', /\[0\]\.path: expected an absolute path/],
  ['two mounts on one path', { mountPoints: [{ storage: 'usb1', sizeGiB: 1 }, { storage: 'usb1', sizeGiB: 2 }] }, 'mountPoints', /one mount point per path.*\/mnt\/bulk\/usb1/],
  ['a bad mount storage', { mountPoints: [{ storage: '1usb', sizeGiB: 1 }] }, 'mountPoints', /\[0\]\.storage/],
  ['too many mounts', { mountPoints: Array.from({ length: 9 }, (_, i) => ({ storage: `s${i}`, sizeGiB: 1 })) }, 'mountPoints', /at most 8 mount points, got 9/],
  ['an address without prefix', { network: { ipv4: '192.168.1.50', gateway: '192.168.1.1' } }, 'network.ipv4', /CIDR form.*got "192.168.1.50"/],
  ['a static address without gateway', { network: { ipv4: '192.168.1.50/24' } }, 'network.gateway', /gateway of the static address/],
  ['a gateway with DHCP', { network: { gateway: '192.168.1.1' } }, 'network.gateway', /no gateway with DHCP/],
  ['a bad bridge', { network: { bridge: 'vmbr 0' } }, 'network.bridge', /bridge name/],
  ['VLAN 4095', { network: { vlan: 4095 } }, 'network.vlan', /from 1 to 4094, got 4095/],
  ['an upper-case tag', { tags: ['Felhom'] }, 'tags', /lower-case tags.*"Felhom"/],
];

for (const [what, patch, field, message] of broken) {
  t.test(`given ${what}, validation names ${field}`, async (t) => {
    const problems = checkRules(customerLxcRules, withArgs(patch));
    t.equal(problems.length, 1, 'exactly one rule breaks');
    t.equal(problems[0]?.field, field);
    t.match(problems[0]?.message, message);
  });
}

t.test('given valid args, no rule breaks', async (t) => {
  t.same(checkRules(customerLxcRules, baseArgs), []);
});

t.test('given invalid args, the constructor throws every problem and registers nothing', async (t) => {
  const error = argsErrorFrom(t, () => new CustomerLxc('cust', withArgs({ vmId: 1, hostname: 'BAD' })));
  t.equal(error?.component, 'felhom:host:CustomerLxc');
  t.equal(error?.resourceName, 'cust');
  t.same(error?.problems.map((p) => p.field), ['vmId', 'hostname']);
  t.match(error?.message, /felhom:host:CustomerLxc "cust": 2 invalid arguments: vmId: .*; hostname: /);
  await mocks.settle();
  t.same(mocks.resources, [], 'no resource was registered');
});
