import t from 'tap';
import { planBox, plannedResources, type TierPlan } from '../../stacks/plan.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { validateBoxSpec } from '../../stacks/spec/validate.js';
import { TIERS, type BoxSpec, type Tier } from '../../stacks/spec/types.js';
import { companyBox, homeBox, type DraftSpec } from '../helpers/box-spec.js';
import { recordProgram } from '../../stacks/mock-runtime.js';
import { tierProgram } from '../../stacks/index.js';
import { planEnvironment, type TierEnvironment } from '../../stacks/environment.js';
import { loadGoldenTemplate } from '../../templates/lib/golden.js';
import { resolveBox } from '../../stacks/spec/resolve.js';
import { edgeRoutes } from '../../stacks/edge.js';

const catalog = catalogLookup();

async function plan(draft: DraftSpec, tiers: readonly Tier[] = TIERS) {
  const result = validateBoxSpec(draft, { catalog });
  if (!result.ok) throw new Error(`fixture is invalid: ${JSON.stringify(result.problems)}`);
  return planBox(result.spec as BoxSpec, { tiers, catalog });
}

function find(tier: TierPlan, type: string, name: string) {
  const found = tier.records.find((record) => record.type === type && record.name === name);
  if (!found) throw new Error(`no ${type} ${name} in ${tier.stack}: ${tier.records.map((r) => `${r.type} ${r.name}`).join(', ')}`);
  return found;
}

/** The provider package of a resource type token: `proxmoxve:index/…` → proxmoxve; `pulumi:providers:docker` → docker. */
function packageOf(type: string): string {
  return type.startsWith('pulumi:providers:') ? type.slice('pulumi:providers:'.length) : type.split(':')[0]!;
}

const TIER_PACKAGES: Record<Tier, readonly string[]> = {
  edge: ['felhom', 'cloudflare', 'random'],
  host: ['felhom', 'proxmoxve', 'command'],
  guest: ['felhom', 'docker', 'random'],
};

t.test('each tier stack of the home box holds only its own tier\'s resources', async (t) => {
  const result = await plan(homeBox());
  for (const tier of TIERS) {
    const planned = result.tiers[tier]!;
    t.equal(planned.stack, `hb-0001.${tier}`);
    const foreign = planned.records.filter((record) => !TIER_PACKAGES[tier].includes(packageOf(record.type)));
    t.same(foreign.map((record) => record.type), [], `${tier} has no foreign resources`);
    t.ok(planned.records.length > 0, `${tier} is not empty`);
  }
});

t.test('the company box is planned with three customer LXCs on one host', async (t) => {
  const result = await plan(companyBox(), ['host']);
  const lxcs = result.tiers.host!.records.filter((record) => record.type === 'felhom:host:CustomerLxc');
  t.same(lxcs.map((lxc) => lxc.name).sort(), ['engineering', 'office', 'operations']);
  const containers = result.tiers.host!.records.filter((record) => record.type === 'proxmoxve:index/containerLegacy:ContainerLegacy');
  t.same(containers.map((container) => container.inputs.vmId).sort(), [300, 301, 302]);
  t.same(containers.map((container) => container.inputs.nodeName), ['pve-office', 'pve-office', 'pve-office']);
});

t.test('the photo app keeps its database hot on the SSD and its library bulk on the USB disk', async (t) => {
  const guest = (await plan(homeBox(), ['guest'])).tiers.guest!;
  const database = find(guest, 'docker:index/container:Container', 'photos-database');
  const server = find(guest, 'docker:index/container:Container', 'photos-immich-server');
  const databaseMount = (database.inputs.volumes as { containerPath: string; volumeName?: string; hostPath?: string }[]).find((v) => v.containerPath === '/var/lib/postgresql/data');
  t.ok(databaseMount?.volumeName, 'the database is a Docker volume on the guest rootfs (fast, in the guest backup)');
  t.notOk(databaseMount?.hostPath);
  find(guest, 'docker:index/volume:Volume', 'photos-volume-database');
  const libraryMount = (server.inputs.volumes as { containerPath: string; hostPath?: string }[]).find((v) => v.containerPath === '/data');
  t.equal(libraryMount?.hostPath, '/mnt/bulk/usb-media/photos/library', 'the library is a bind mount on the USB disk mount point');
});

t.test('the guest LXC mounts the USB disk with backup off', async (t) => {
  const host = (await plan(homeBox(), ['host'])).tiers.host!;
  const container = find(host, 'proxmoxve:index/containerLegacy:ContainerLegacy', 'customer-container');
  t.match(container.inputs.mountPoints, [{ path: '/mnt/bulk/usb-media', backup: false }]);
  t.equal(container.inputs.unprivileged, true);
});

t.test('secrets reach the plan only as Pulumi secrets', async (t) => {
  const result = await plan(homeBox());
  const text = JSON.stringify(Object.values(result.tiers).map((tier) => plannedResources(tier)));
  t.notMatch(text, /<ref:pbs-token>|<proxmox-api-token>|<cloudflare-api-token>|<ref:tunnel-token>/, 'no placeholder secret appears in clear');
  const pbs = find(result.tiers.host!, 'proxmoxve:storage/pbs:Pbs', 'offsite-storage');
  t.ok(pbs.secretPaths.length > 0, 'the PBS storage has secret inputs');
});

t.test('a spec without apps plans an empty guest tier except Traefik', async (t) => {
  const guest = (await plan(homeBox((s) => delete s.spec.apps), ['guest'])).tiers.guest!;
  t.notOk(guest.records.some((record) => record.type === 'felhom:guest:AppStack'));
  t.ok(guest.records.some((record) => record.type === 'felhom:guest:Traefik'));
});

/** The host program's resources for a fixture, with extra environment (restore mode's knobs). */
async function hostTier(draft: DraftSpec, extra: Pick<TierEnvironment, 'adoptGuests' | 'storagesOnly'>) {
  const golden = loadGoldenTemplate();
  const result = validateBoxSpec(draft, { catalog });
  if (!result.ok) throw new Error('fixture is invalid');
  const box = resolveBox(result.spec, catalog, golden.sizing);
  const { resources } = await recordProgram(tierProgram('host', box, golden, { ...planEnvironment(), ...extra }), { project: 'felhom', stack: `${box.box}.host` });
  return resources;
}

t.test('in restore mode the host program adopts the restored guests and creates the others', async (t) => {
  const resources = await hostTier(companyBox(), { adoptGuests: [300, 302] });
  const containers = resources.filter((resource) => resource.type === 'proxmoxve:index/containerLegacy:ContainerLegacy');
  t.same(
    Object.fromEntries(containers.map((container) => [container.inputs.vmId, container.importId ?? null])),
    { 300: 'pve-office/300', 301: null, 302: 'pve-office/302' },
    'restored guests are imported by <node>/<vmId>; the guest no backup held is created',
  );
});

t.test('restore mode on a bare host first builds the storage manifest alone', async (t) => {
  const resources = await hostTier(homeBox(), { storagesOnly: true });
  t.same(
    [...new Set(resources.map((resource) => resource.type))].sort(),
    ['felhom:host:StorageTarget', 'proxmoxve:storage/directory:Directory', 'proxmoxve:storage/nfs:Nfs', 'proxmoxve:storage/pbs:Pbs', 'pulumi:providers:proxmoxve'],
    'the provider and the three storages, no guest, backup job or cloudflared',
  );
});

t.test("the tunnel takes the controller hostname to the guest's controller UI port and every app to its guest's Traefik", async (t) => {
  const golden = loadGoldenTemplate();
  for (const draft of [homeBox(), companyBox()]) {
    const result = validateBoxSpec(draft, { catalog });
    if (!result.ok) throw new Error('fixture is invalid');
    const box = resolveBox(result.spec, catalog, golden.sizing);
    const routes = edgeRoutes(box);
    const controllerGuest = box.guests.find((guest) => guest.name === box.edge.controllerGuest)!;
    t.same(routes[0], { hostname: box.edge.controllerHostname, service: controllerGuest.controllerUiUrl }, `${box.box}: the controller UI first`);
    t.match(controllerGuest.controllerUiUrl, /:8080$/, 'where controller run --ui-listen 0.0.0.0:8080 serves it');
    for (const app of box.apps) t.same(routes.find((route) => route.hostname === app.hostname)?.service, box.guests.find((guest) => guest.name === app.guest)!.serviceUrl, `${app.hostname}: its guest's Traefik`);
  }
});
