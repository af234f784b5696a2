// Spec names are Pulumi logical names (docs/box-spec.md#names-are-identities): comparePlans
// finds a renamed guest, app, storage target, tunnel or box between the plan of the applied spec
// and a new one, with the stateful resources Pulumi would replace; stateful resources that go
// without a rename are listed as deleted.
import t from 'tap';
import { comparePlans, isStateful, planBox, type BoxPlan } from '../../stacks/plan.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { validateBoxSpec } from '../../stacks/spec/validate.js';
import { TIERS, type BoxSpec, type Tier } from '../../stacks/spec/types.js';
import { companyBox, homeBox, type DraftSpec } from '../helpers/box-spec.js';

const catalog = catalogLookup();
const CONTAINER = 'proxmoxve:index/containerLegacy:ContainerLegacy';
const VOLUME = 'docker:index/volume:Volume';
const PASSWORD = 'random:index/randomPassword:RandomPassword';

async function plan(draft: DraftSpec, tiers: readonly Tier[] = TIERS): Promise<BoxPlan> {
  const result = validateBoxSpec(draft, { catalog });
  if (!result.ok) throw new Error(`fixture is invalid: ${JSON.stringify(result.problems)}`);
  return planBox(result.spec as BoxSpec, { tiers, catalog });
}

/** `tier type name` of each ref, sorted: for exact comparisons. */
function refs(list: readonly { tier: string; type: string; name: string }[]): string[] {
  return list.map((ref) => `${ref.tier} ${ref.type} ${ref.name}`).sort();
}

/** Renames a guest and every reference to it. */
function renameGuest(spec: DraftSpec, from: string, to: string): void {
  for (const guest of spec.spec.guests) if (guest.name === from) guest.name = to;
  for (const app of spec.spec.apps ?? []) if (app.guest === from) app.guest = to;
}

/** Points the backup jobs and the bulk policy at a renamed storage. */
function pointAt(spec: DraftSpec, from: string, to: string): void {
  for (const job of spec.spec.backup.jobs) if (job.storage === from) job.storage = to;
  const bulk = spec.spec.backup.bulk as { storage?: string } | undefined;
  if (bulk?.storage === from) bulk.storage = to;
}

t.test('the same spec twice: no rename and nothing deleted', async (t) => {
  const comparison = comparePlans(await plan(homeBox()), await plan(homeBox()));
  t.same(comparison, { renames: [], deleted: [] });
});

t.test('a guest renamed with its vmId kept replaces its container, and only that', async (t) => {
  const comparison = comparePlans(await plan(homeBox()), await plan(homeBox((s) => renameGuest(s, 'customer', 'family'))));
  t.same(comparison.renames.map(({ kind, from, to }) => ({ kind, from, to })), [{ kind: 'guest', from: 'customer', to: 'family' }]);
  t.same(refs(comparison.renames[0]!.replaced), [`host ${CONTAINER} customer-container`]);
  t.same(comparison.deleted, []);
});

t.test('an app renamed on the same guest with the same template replaces its volumes and generated secrets', async (t) => {
  const comparison = comparePlans(await plan(homeBox(), ['guest']), await plan(homeBox((s) => (s.spec.apps![0]!.name = 'pictures')), ['guest']));
  t.equal(comparison.renames.length, 1);
  const rename = comparison.renames[0]!;
  t.same({ kind: rename.kind, from: rename.from, to: rename.to }, { kind: 'app', from: 'photos', to: 'pictures' });
  t.same(refs(rename.replaced), [
    `guest ${VOLUME} photos-volume-database`,
    `guest ${VOLUME} photos-volume-db-dumps`,
    `guest ${VOLUME} photos-volume-model-cache`,
    `guest ${PASSWORD} photos-secret-db-password`,
  ]);
  t.same(comparison.deleted, []);
});

t.test('an app replaced by another template is not a rename: its stateful resources are deleted', async (t) => {
  const before = await plan(companyBox(), ['guest']);
  const target = await plan(companyBox((s) => Object.assign(s.spec.apps!.find((app) => app.name === 'status')!, { name: 'vault2', template: 'vaultwarden' })), ['guest']);
  const comparison = comparePlans(before, target);
  t.same(comparison.renames, []);
  t.ok(comparison.deleted.length > 0, 'the old app\'s volumes are listed');
  t.ok(comparison.deleted.every((ref) => ref.name.startsWith('status-')), refs(comparison.deleted).join('\n'));
});

t.test('a storage target renamed with the same type and identity replaces its storage definition', async (t) => {
  const rename = (s: DraftSpec) => {
    s.spec.storage!.find((storage) => storage.name === 'nas-backup')!.name = 'nas';
    pointAt(s, 'nas-backup', 'nas');
  };
  const comparison = comparePlans(await plan(homeBox(), ['host']), await plan(homeBox(rename), ['host']));
  t.same(comparison.renames.map(({ kind, from, to }) => `${kind} ${from} → ${to}`), ['storage nas-backup → nas']);
  t.same(refs(comparison.renames[0]!.replaced), ['host proxmoxve:storage/nfs:Nfs nas-backup-storage']);
});

t.test('a storage target renamed to another identity is a different storage: the old one is deleted', async (t) => {
  const change = (s: DraftSpec) => {
    Object.assign(s.spec.storage!.find((storage) => storage.name === 'nas-backup')!, { name: 'nas', identity: 'nas2.lan:/volume1/felhom' });
    pointAt(s, 'nas-backup', 'nas');
  };
  const comparison = comparePlans(await plan(homeBox(), ['host']), await plan(homeBox(change), ['host']));
  t.same(comparison.renames, []);
  t.same(refs(comparison.deleted), ['host proxmoxve:storage/nfs:Nfs nas-backup-storage']);
});

t.test('a guest removed from the company box is deleted, with no rename', async (t) => {
  const remove = (s: DraftSpec) => {
    s.spec.guests = s.spec.guests.filter((guest) => guest.name !== 'operations');
    s.spec.apps = s.spec.apps!.filter((app) => app.guest !== 'operations');
    for (const job of s.spec.backup.jobs) if (job.guests) job.guests = job.guests.filter((guest) => guest !== 'operations');
  };
  const comparison = comparePlans(await plan(companyBox(), ['host']), await plan(companyBox(remove), ['host']));
  t.same(comparison.renames, []);
  t.same(refs(comparison.deleted), [`host ${CONTAINER} operations-container`]);
});

t.test('a renamed box is new stacks: every stateful resource is listed once, under the box', async (t) => {
  const renamed = (s: DraftSpec) => {
    s.metadata.box = 'hb-0002';
    s.spec.edge!.tunnel = { ...s.spec.edge!.tunnel!, name: 'felhom-hb-0001' };
  };
  const before = await plan(homeBox(), ['host', 'edge']);
  const comparison = comparePlans(before, await plan(homeBox(renamed), ['host', 'edge']));
  t.same(comparison.renames.map(({ kind, from, to }) => `${kind} ${from} → ${to}`), ['box hb-0001 → hb-0002'], 'the tunnel kept its name');
  const stateful = Object.entries(before.tiers).flatMap(([tier, planned]) => planned!.records.filter((r) => r.custom && isStateful(r.type)).map((r) => ({ tier, type: r.type, name: r.name })));
  t.same(refs(comparison.renames[0]!.replaced), refs(stateful));
  t.ok(stateful.length >= 5);
  t.same(comparison.deleted, []);
});

t.test('a renamed tunnel replaces the tunnel and its secret, so the token changes', async (t) => {
  const comparison = comparePlans(await plan(homeBox(), ['edge']), await plan(homeBox((s) => (s.spec.edge!.tunnel = { ...s.spec.edge!.tunnel!, name: 'felhom-new' })), ['edge']));
  t.same(comparison.renames.map(({ kind, from, to }) => `${kind} ${from} → ${to}`), ['tunnel felhom-hb-0001 → felhom-new']);
  t.same(refs(comparison.renames[0]!.replaced), [
    'edge cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared felhom-hb-0001-tunnel',
    'edge random:index/randomBytes:RandomBytes felhom-hb-0001-secret',
  ]);
});

t.test('what counts as stateful', async (t) => {
  for (const type of [CONTAINER, 'proxmoxve:storage/pbs:Pbs', VOLUME, PASSWORD, 'cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared']) t.ok(isStateful(type), type);
  for (const type of ['proxmoxve:backup/job:Job', 'docker:index/container:Container', 'docker:index/network:Network', 'cloudflare:index/dnsRecord:DnsRecord', 'command:local:Command']) t.notOk(isStateful(type), type);
});
