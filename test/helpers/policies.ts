/**
 * Policy test fixtures: plan a (modified) box spec offline, take one tier's resources as the
 * rules see them, and change recorded resources for the cases the components never produce.
 */
import { evaluateRule, fromRecord } from '../../policies/check.js';
import type { PolicyResource, PolicyRule, Violation } from '../../policies/types.js';
import { planBox, type BoxPlan } from '../../stacks/plan.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { TIERS, type BoxSpec, type Tier } from '../../stacks/spec/types.js';
import { validateBoxSpec, type CatalogLookup } from '../../stacks/spec/validate.js';
import type { DraftSpec } from './box-spec.js';

export const catalog = catalogLookup();

/** A 64-hex digest for fixtures that pin every image. */
export const FAKE_DIGEST = `sha256:${'a'.repeat(64)}`;

/** The real catalog with every service pinned by digest (the manifests pin only some today). */
export const pinnedCatalog: CatalogLookup = (template) => {
  const manifest = catalog(template);
  return manifest && { ...manifest, services: manifest.services.map((service) => ({ ...service, digest: service.digest ?? FAKE_DIGEST })) };
};

/** Validates and plans a draft spec; a fixture that does not validate is a broken test. */
export async function plan(draft: DraftSpec, tiers: readonly Tier[] = TIERS, lookup: CatalogLookup = catalog): Promise<BoxPlan> {
  const result = validateBoxSpec(draft, { catalog: lookup });
  if (!result.ok) throw new Error(`fixture is invalid: ${JSON.stringify(result.problems)}`);
  return planBox(result.spec as BoxSpec, { tiers, catalog: lookup });
}

/** One planned tier's resources as rules see them. */
export function resourcesOf(result: BoxPlan, tier: Tier): PolicyResource[] {
  const planned = result.tiers[tier];
  if (!planned) throw new Error(`tier ${tier} was not planned`);
  return planned.records.map(fromRecord);
}

/** The resource of a type and name; throws when absent so a fixture mistake is loud. */
export function find(resources: readonly PolicyResource[], type: string, name: string): PolicyResource {
  const found = resources.find((resource) => resource.type === type && resource.name === name);
  if (!found) throw new Error(`no ${type} "${name}" among ${resources.map((r) => `${r.type} ${r.name}`).join(', ')}`);
  return found;
}

/** A copy of the resources with `change` applied to the named one (inputs deep-copied first). */
export function modify(resources: readonly PolicyResource[], type: string, name: string, change: (resource: { -readonly [K in keyof PolicyResource]: PolicyResource[K] } & { inputs: Record<string, any> }) => void): PolicyResource[] {
  find(resources, type, name);
  return resources.map((resource) => {
    if (resource.type !== type || resource.name !== name) return resource;
    const copy = { ...resource, inputs: structuredClone(resource.inputs) as Record<string, any> };
    change(copy);
    return copy;
  });
}

/** The rule's violations over one tier's resources of a plan. */
export function check(rule: PolicyRule, result: BoxPlan, tier: Tier, resources: readonly PolicyResource[] = resourcesOf(result, tier)): Violation[] {
  return evaluateRule(rule, resources, { tier, box: result.box });
}

/** Only the messages, for exact assertions. */
export function messages(violations: readonly Violation[]): string[] {
  return violations.map((violation) => violation.message);
}

/**
 * The edge stack's resources as the Tunnel and GeoWaf components register them (type tokens and
 * input names from `felhom plan --json`), built from the resolved box: used while edge rules
 * need fixtures independent of the edge program.
 */
export function edgeResources(box: BoxPlan['box'], geoExpression?: string): PolicyResource[] {
  const stack = `${box.box}.edge`;
  const urn = (type: string, name: string, parent?: string) => `urn:pulumi:${stack}::felhom::${parent ? `${parent}$` : ''}${type}::${name}`;
  const hostnames = [box.edge.controllerHostname, ...box.apps.map((app) => app.hostname)];
  const tunnel = box.edge.tunnelName;
  const resource = (type: string, name: string, inputs: Record<string, unknown>, parent = 'felhom:edge:Tunnel'): PolicyResource => ({
    type,
    name,
    urn: urn(type, name, parent),
    parent: tunnel,
    parentType: parent,
    inputs,
    secretPaths: [],
    protect: false,
  });
  const resources: PolicyResource[] = [
    resource('cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig', `${tunnel}-config`, {
      accountId: box.edge.accountId,
      source: 'cloudflare',
      tunnelId: `${tunnel}-tunnel-id`,
      config: { ingresses: [...hostnames.map((hostname) => ({ hostname, service: 'http://192.168.1.50:80' })), { service: 'http_status:404' }] },
    }),
    ...hostnames.map((hostname) =>
      resource('cloudflare:index/dnsRecord:DnsRecord', `${tunnel}-dns-${hostname.replace(/\./g, '-')}`, {
        zoneId: box.edge.zoneId,
        name: hostname,
        type: 'CNAME',
        content: `${tunnel}-tunnel-id.cfargotunnel.com`,
        proxied: true,
        ttl: 1,
      }),
    ),
  ];
  if (geoExpression) {
    resources.push({
      ...resource('cloudflare:index/ruleset:Ruleset', `${box.box}-geo-ruleset`, {
        zoneId: box.edge.zoneId,
        kind: 'zone',
        phase: 'http_request_firewall_custom',
        rules: [{ ref: 'felhom_geo', expression: geoExpression, action: 'block', enabled: true }],
      }, 'felhom:edge:GeoWaf'),
      parent: `${box.box}-geo`,
    });
  }
  return resources;
}

/** The real catalog with every digest removed: every image pulled by tag. */
export const unpinnedCatalog: CatalogLookup = (template) => {
  const manifest = catalog(template);
  return manifest && { ...manifest, services: manifest.services.map(({ digest: _digest, ...service }) => service) };
};
