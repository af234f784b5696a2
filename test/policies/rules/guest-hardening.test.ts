import t from 'tap';
import { guestHardening } from '../../../policies/rules/guest-hardening.js';
import { homeBox } from '../../helpers/box-spec.js';
import { check, messages, modify, plan, resourcesOf } from '../../helpers/policies.js';

const LXC = 'proxmoxve:index/containerLegacy:ContainerLegacy';
const CT = `${LXC} "customer-container"`;

t.test('the home box LXC is unprivileged, Docker-ready and mounts only its declared bulk storage', async (t) => {
  const result = await plan(homeBox(), ['host']);
  t.same(check(guestHardening, result, 'host'), []);
});

t.test('a privileged container is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), LXC, 'customer-container', (r) => (r.inputs.unprivileged = false));
  t.same(messages(check(guestHardening, result, 'host', resources)), [
    `${CT} is privileged (unprivileged: false): an escaped app would be root on the Proxmox host; set unprivileged: true`,
  ]);
});

t.test('container features beyond nesting (keyctl among them) are refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), LXC, 'customer-container', (r) => {
    r.inputs.features.keyctl = true;
    r.inputs.features.fuse = true;
    r.inputs.features.mounts = ['nfs'];
  });
  t.same(messages(check(guestHardening, result, 'host', resources)), [
    `${CT} enables container features "fuse", "keyctl", "mounts" beyond what Docker needs (nesting): turn them off`,
  ]);
});

t.test('a host bind mount and an undeclared storage mount are refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), LXC, 'customer-container', (r) => {
    r.inputs.mountPoints.push({ volume: '/etc/pve', path: '/mnt/pve', backup: false });
    r.inputs.mountPoints.push({ volume: 'nas-backup', path: '/mnt/bulk/nas-backup', size: '10G', backup: false });
  });
  t.same(messages(check(guestHardening, result, 'host', resources)), [
    `${CT} mountPoints[1] bind-mounts the host path "/etc/pve": give the guest storage only as a volume on a declared bulk storage (spec.guests[].mounts)`,
    `${CT} mountPoints[2] mounts storage "nas-backup", which spec.guests "customer" does not declare (declared: "usb-media"): declare it under spec.guests[].mounts or remove the mount point`,
  ]);
});

t.test('device passthrough and a container that is not in the spec are refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), LXC, 'customer-container', (r) => {
    r.inputs.devicePassthroughs = [{ path: '/dev/dri/renderD128' }];
    r.inputs.vmId = 999;
    r.inputs.mountPoints = [];
  });
  t.same(messages(check(guestHardening, result, 'host', resources)), [
    `${CT} passes host devices into the guest: remove devicePassthroughs; apps get storage through bulk mount points`,
    `${CT} has VM id 999, which no guest in spec.guests has: every customer LXC must come from the spec`,
  ]);
});

t.test('without the box spec the box-independent checks still run', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resource = modify(resourcesOf(result, 'host'), LXC, 'customer-container', (r) => (r.inputs.unprivileged = false)).find((r) => r.type === LXC)!;
  t.equal(guestHardening.checkResource!(resource, { tier: 'host' }).length, 1);
});
