/**
 * `felhom plan`: the tier programs of a box spec run under Pulumi's mock runtime, offline, and
 * the resources each would register. No provider, engine or network is involved.
 */
import { loadGoldenTemplate, type GoldenTemplate } from '../templates/lib/golden.js';
import { planEnvironment } from './environment.js';
import { tierProgram } from './index.js';
import { recordProgram, type RecordedResource } from './mock-runtime.js';
import { resolveBox, type ResolvedBox } from './spec/resolve.js';
import { stackName, type BoxSpec, type Tier } from './spec/types.js';
import type { CatalogLookup } from './spec/validate.js';

export interface PlannedResource {
  readonly type: string;
  readonly name: string;
  /** The parent's name; absent for top-level resources. */
  readonly parent?: string;
  readonly inputs: Record<string, unknown>;
}

export interface TierPlan {
  readonly stack: string;
  /** What the tier registered, with parent types, secret paths and resource options (for policies). */
  readonly records: readonly RecordedResource[];
}

/** The plan's public view of a tier (`felhom plan --json`): type, name, parent, masked inputs. */
export function plannedResources(tier: TierPlan): PlannedResource[] {
  return tier.records.map((record) => ({
    type: record.type,
    name: record.name,
    ...(record.parent ? { parent: record.parent } : {}),
    inputs: record.inputs,
  }));
}

export interface BoxPlan {
  readonly box: ResolvedBox;
  readonly tiers: Partial<Record<Tier, TierPlan>>;
}

export interface PlanOptions {
  readonly tiers: readonly Tier[];
  readonly catalog: CatalogLookup;
  /** @default - templates/lxc/golden.yml */
  readonly golden?: GoldenTemplate;
}

/** Plans the given tiers of a validated spec, one after another (the mock runtime is global). */
export async function planBox(spec: BoxSpec, options: PlanOptions): Promise<BoxPlan> {
  const golden = options.golden ?? loadGoldenTemplate();
  const box = resolveBox(spec, options.catalog, golden.sizing);
  const tiers: Partial<Record<Tier, TierPlan>> = {};
  for (const tier of options.tiers) {
    const stack = stackName(box.box, tier);
    const { resources } = await recordProgram(tierProgram(tier, box, golden, planEnvironment()), { project: 'felhom', stack });
    tiers[tier] = { stack, records: resources };
  }
  return { box, tiers };
}

// ---- renames: spec names are Pulumi logical names (docs/box-spec.md#names-are-identities) ----

/** What a spec name names. */
export type RenamedKind = 'box' | 'guest' | 'app' | 'storage' | 'tunnel';

/** One resource of a plan, as a rename warning lists it. */
export interface PlannedRef {
  readonly tier: Tier;
  readonly type: string;
  readonly name: string;
}

/** A name changed in the spec while the thing it names stayed: Pulumi replaces what it holds. */
export interface RenameWarning {
  readonly kind: RenamedKind;
  readonly from: string;
  readonly to: string;
  /** The stateful resources that would be deleted and created again (for `box`: created again in new stacks). */
  readonly replaced: readonly PlannedRef[];
}

export interface PlanComparison {
  /** Renames that would replace at least one stateful resource. */
  readonly renames: readonly RenameWarning[];
  /** Stateful resources the previous plan had and this one has not, with no rename to explain them. */
  readonly deleted: readonly PlannedRef[];
}

/**
 * Resource types that hold what a replacement loses: a guest's disks, a storage definition guests
 * and jobs refer to, Docker volumes (apps' hot data), generated secrets (a database's password)
 * and the Cloudflare tunnel (its token is in the hub record and on the host).
 */
export function isStateful(type: string): boolean {
  return (
    /^proxmoxve:index\/(container|vm)/i.test(type) ||
    type.startsWith('proxmoxve:storage/') ||
    type === 'docker:index/volume:Volume' ||
    type.startsWith('random:') ||
    type === 'cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared'
  );
}

/** The component type that carries each kind's name in the tier programs. */
const COMPONENT_OF: Record<Exclude<RenamedKind, 'box'>, string> = {
  guest: 'felhom:host:CustomerLxc',
  app: 'felhom:guest:AppStack',
  storage: 'felhom:host:StorageTarget',
  tunnel: 'felhom:edge:Tunnel',
};

/** Pairs names that left with names that came, by a key that says "the same thing". */
function pairRenames(kind: RenamedKind, previous: readonly { name: string; key: string }[], current: readonly { name: string; key: string }[]): { kind: RenamedKind; from: string; to: string }[] {
  const before = new Set(previous.map((item) => item.name));
  const now = new Set(current.map((item) => item.name));
  const arrived = current.filter((item) => !before.has(item.name));
  const pairs: { kind: RenamedKind; from: string; to: string }[] = [];
  for (const gone of previous.filter((item) => !now.has(item.name))) {
    const index = arrived.findIndex((item) => item.key === gone.key);
    if (index < 0) continue;
    pairs.push({ kind, from: gone.name, to: arrived[index]!.name });
    arrived.splice(index, 1);
  }
  return pairs;
}

/** A URN without its stack and project: the same resource in another stack has the same tail. */
function urnTail(urn: string): string {
  return urn.split('::').slice(2).join('::');
}

/**
 * Compares the plan of the spec that is applied now with the plan of a new one, tier by tier:
 * a guest renamed with its `vmId` kept, an app renamed on the same guest with the same template,
 * a storage target renamed with the same type and identity, a renamed tunnel or box, each with
 * the stateful resources Pulumi would replace because of it; and stateful resources that go
 * with no rename to explain them.
 */
export function comparePlans(previous: BoxPlan, current: BoxPlan): PlanComparison {
  const guests = pairRenames('guest', previous.box.guests.map((g) => ({ name: g.name, key: String(g.vmId) })), current.box.guests.map((g) => ({ name: g.name, key: String(g.vmId) })));
  const guestNow = (name: string) => guests.find((rename) => rename.from === name)?.to ?? name;
  const candidates = [
    ...guests,
    ...pairRenames('app', previous.box.apps.map((a) => ({ name: a.name, key: `${a.template}@${guestNow(a.guest)}` })), current.box.apps.map((a) => ({ name: a.name, key: `${a.template}@${a.guest}` }))),
    ...pairRenames('storage', previous.box.storage.map((s) => ({ name: s.name, key: `${s.type}:${JSON.stringify(s.identity)}` })), current.box.storage.map((s) => ({ name: s.name, key: `${s.type}:${JSON.stringify(s.identity)}` }))),
    ...(previous.box.edge.tunnelName !== current.box.edge.tunnelName ? [{ kind: 'tunnel' as const, from: previous.box.edge.tunnelName, to: current.box.edge.tunnelName }] : []),
  ];

  const replaced = new Map<(typeof candidates)[number], PlannedRef[]>(candidates.map((candidate) => [candidate, []]));
  const deleted: PlannedRef[] = [];
  const everything: PlannedRef[] = [];
  for (const [tier, before] of Object.entries(previous.tiers) as [Tier, TierPlan][]) {
    const after = current.tiers[tier];
    if (!after) continue;
    const kept = new Set(after.records.map((record) => urnTail(record.urn)));
    const byKey = new Map(before.records.map((record) => [`${record.type}::${record.name}`, record]));
    for (const record of before.records) {
      if (!record.custom || !isStateful(record.type)) continue;
      const ref = { tier, type: record.type, name: record.name };
      everything.push(ref);
      if (kept.has(urnTail(record.urn))) continue;
      // The rename of the nearest component above the resource explains it.
      let owner: (typeof candidates)[number] | undefined;
      for (let at: RecordedResource | undefined = record; at && !owner; at = at.parent ? byKey.get(`${at.parentType}::${at.parent}`) : undefined) {
        owner = candidates.find((candidate) => candidate.kind !== 'box' && COMPONENT_OF[candidate.kind] === at!.type && candidate.from === at!.name);
      }
      if (owner) replaced.get(owner)!.push(ref);
      else deleted.push(ref);
    }
  }
  const renames: RenameWarning[] = candidates.map((candidate) => ({ ...candidate, replaced: replaced.get(candidate)! })).filter((rename) => rename.replaced.length > 0);
  // A new box name is new stacks: everything stateful is created again beside the old stacks.
  if (previous.box.box !== current.box.box && everything.length > 0) renames.unshift({ kind: 'box', from: previous.box.box, to: current.box.box, replaced: everything });
  return { renames, deleted: previous.box.box !== current.box.box ? [] : deleted };
}
