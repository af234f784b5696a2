import t from 'tap';
import { dataPlacement } from '../../../policies/rules/data-placement.js';
import type { ResolvedBox } from '../../../stacks/spec/resolve.js';
import { homeBox } from '../../helpers/box-spec.js';
import { check, find, messages, modify, plan, resourcesOf } from '../../helpers/policies.js';

const LXC = 'proxmoxve:index/containerLegacy:ContainerLegacy';
const CT = `${LXC} "customer-container"`;
const DOCKER = 'docker:index/container:Container';

t.test('the home box keeps hot data on the rootfs and bulk on its USB disk, out of the guest backup', async (t) => {
  const result = await plan(homeBox(), ['host', 'guest']);
  t.same(check(dataPlacement, result, 'host'), []);
  t.same(check(dataPlacement, result, 'guest'), []);
});

t.test('a bulk mount point the spec opts into the guest backup is allowed', async (t) => {
  const result = await plan(homeBox((spec) => (spec.spec.guests[0]!.mounts![0]!.backup = true)), ['host']);
  t.equal(find(resourcesOf(result, 'host'), LXC, 'customer-container').inputs.mountPoints instanceof Array, true);
  t.same(check(dataPlacement, result, 'host'), []);
});

t.test('a bulk mount point in the guest backup without the spec opting in is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), LXC, 'customer-container', (r) => (r.inputs.mountPoints[0].backup = true));
  t.same(messages(check(dataPlacement, result, 'host', resources)), [
    `${CT} mountPoints[0] ("usb-media") is included in the guest backup, but the spec does not opt it in: set backup: false, or set spec.guests[].mounts[].backup: true if the bulk data must ride the guest vzdump`,
  ]);
});

t.test('a root filesystem on slow storage and a mount point on a non-bulk storage are refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), LXC, 'customer-container', (r) => {
    r.inputs.disk.datastoreId = 'usb-media';
    r.inputs.mountPoints[0].volume = 'nas-backup';
  });
  t.same(messages(check(dataPlacement, result, 'host', resources)), [
    `${CT} puts its root filesystem (hot data) on "usb-media", which is not fast rootfs storage: use the host's root storage "local-lvm" or a class fast storage with the rootfs role`,
    `${CT} mountPoints[0] is on "nas-backup", which is not a declared bulk storage: mount points hold bulk data and must be on a spec.storage entry with the bulk role`,
  ]);
});

t.test('an app container binding a host path that is no placed bulk volume is refused', async (t) => {
  const result = await plan(homeBox(), ['guest']);
  const resources = modify(resourcesOf(result, 'guest'), DOCKER, 'vault-vaultwarden', (r) => r.inputs.volumes.push({ hostPath: '/var/lib/docker', containerPath: '/host', readOnly: false }));
  t.same(messages(check(dataPlacement, result, 'guest', resources)), [
    `${DOCKER} "vault-vaultwarden" volumes[1] bind-mounts "/var/lib/docker", which is no bulk volume the spec places: bind only bulk volumes, under /mnt/bulk/<storage>/<app>/<volume> of a declared mount`,
  ]);
});

t.test("Traefik may bind only the Docker socket, and only read-only", async (t) => {
  const result = await plan(homeBox(), ['guest']);
  const resources = modify(resourcesOf(result, 'guest'), DOCKER, 'customer-traefik-container', (r) => (r.inputs.volumes[0].readOnly = false));
  t.same(messages(check(dataPlacement, result, 'guest', resources)), [
    `${DOCKER} "customer-traefik-container" volumes[0] bind-mounts "/var/run/docker.sock", which is no bulk volume the spec places: bind only bulk volumes, under /mnt/bulk/<storage>/<app>/<volume> of a declared mount`,
  ]);
});

t.test('a hot volume placed on a bulk path is refused', async (t) => {
  const result = await plan(homeBox(), ['guest']);
  const hostPath = '/mnt/bulk/usb-media/photos/database';
  const photos = result.box.apps.find((app) => app.name === 'photos')!;
  const box: ResolvedBox = {
    ...result.box,
    apps: result.box.apps.map((app) => (app !== photos ? app : { ...app, volumes: app.volumes.map((v) => (v.name === 'database' ? { ...v, storage: 'usb-media', hostPath } : v)) })),
  };
  const resources = modify(resourcesOf(result, 'guest'), DOCKER, 'photos-database', (r) => (r.inputs.volumes[0] = { hostPath, containerPath: '/var/lib/postgresql/data', readOnly: false }));
  t.same(messages(check(dataPlacement, { ...result, box }, 'guest', resources)), [
    `${DOCKER} "photos-database" volumes[0] puts the hot volume "database" on the bulk path ${hostPath}: hot data must stay in a Docker volume on the guest's fast rootfs; remove the spec.apps[].volumes override for it`,
    'app "photos" places its hot volume "database" on storage "usb-media": hot data stays on the guest rootfs; remove spec.apps[].volumes.database',
  ]);
});
