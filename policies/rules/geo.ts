/**
 * Geo restriction (docs/architecture.md#geo-restriction): when the spec declares one, the edge stack holds the WAF rule
 * that enforces it, and the rule says what the spec says: same mode, same countries, same
 * exempt hostnames. A WAF rule the spec no longer declares is a restriction nobody can see.
 */
import type { GeoSpec } from '../../stacks/spec/types.js';
import { asArray, asRecord, describe, quoted, TYPES } from '../resources.js';
import type { PolicyResource, PolicyRule, Violation } from '../types.js';

export const GEO_PHASE = 'http_request_firewall_custom';

function setIn(expression: string, field: string): string[] | undefined {
  const match = new RegExp(`${field.replace(/\./g, '\\.')} in \\{([^}]*)\\}`).exec(expression);
  return match ? [...match[1]!.matchAll(/"([^"]*)"/g)].map((item) => item[1]!).sort() : undefined;
}

/** What a geo expression enforces, parsed back from Cloudflare's Rules language. */
export function parseGeoExpression(expression: string): { mode: 'allow' | 'deny'; countries: string[]; exempt: string[] } | undefined {
  const countries = setIn(expression, 'ip.src.country');
  if (!countries) return undefined;
  const mode = /not\s+ip\.src\.country in/.test(expression) ? 'allow' : 'deny';
  return { mode, countries, exempt: setIn(expression, 'http.host') ?? [] };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = [...a].sort();
  const right = [...b].sort();
  return left.length === right.length && left.every((value, index) => value === right[index]);
}

function geoRules(ruleset: PolicyResource): Record<string, unknown>[] {
  return asArray(ruleset.inputs.rules)
    .map(asRecord)
    .filter((rule) => typeof rule.expression === 'string' && rule.expression.includes('ip.src.country'));
}

function compare(ruleset: PolicyResource, geo: GeoSpec): string[] {
  const rules = geoRules(ruleset).filter((rule) => rule.enabled !== false && (rule.action === 'block' || rule.action === 'managed_challenge'));
  if (rules.length === 0) return [`${describe(ruleset)} has no enabled blocking rule on ip.src.country: add the geo rule (GeoWaf) for spec.edge.geo`];
  const messages: string[] = [];
  for (const rule of rules) {
    const parsed = parseGeoExpression(String(rule.expression));
    const expected = `${geo.mode} ${[...geo.countries].sort().join(' ')}${geo.exemptHostnames?.length ? ` except ${[...geo.exemptHostnames].sort().join(' ')}` : ''}`;
    if (!parsed || parsed.mode !== geo.mode || !sameSet(parsed.countries, geo.countries) || !sameSet(parsed.exempt, geo.exemptHostnames ?? [])) {
      const actual = parsed ? `${parsed.mode} ${parsed.countries.join(' ')}${parsed.exempt.length ? ` except ${parsed.exempt.join(' ')}` : ''}` : JSON.stringify(rule.expression);
      messages.push(`${describe(ruleset)} enforces ${actual}, but spec.edge.geo says ${expected}: re-run the edge tier so the WAF rule follows the spec`);
    }
  }
  return messages;
}

export const geoMatchesSpec: PolicyRule = {
  name: 'geo-matches-spec',
  description: 'A geo WAF rule exists exactly when the spec declares a geo restriction, with the same mode, countries and exempt hostnames.',
  level: 'mandatory',
  remediation: 'Declare the restriction in spec.edge.geo and let the edge tier create it with GeoWaf; remove hand-made geo rules.',
  tiers: ['edge'],
  needsBox: true,
  checkStack(resources, context) {
    const box = context.box;
    if (!box || context.tier !== 'edge') return [];
    const rulesets = resources.filter((resource) => resource.type === TYPES.ruleset && resource.inputs.phase === GEO_PHASE && geoRules(resource).length > 0);
    const geo = box.edge.geo;
    const violations: Violation[] = [];
    if (!geo) {
      for (const ruleset of rulesets) {
        violations.push({ urn: ruleset.urn, message: `${describe(ruleset)} restricts by country, but the spec declares no geo restriction: remove it, or declare it in spec.edge.geo` });
      }
      return violations;
    }
    if (rulesets.length === 0) {
      return [{ message: `spec.edge.geo declares ${geo.mode} ${quoted(geo.countries)}, but the edge stack has no WAF rule enforcing it: create a GeoWaf in the edge tier` }];
    }
    for (const ruleset of rulesets) for (const message of compare(ruleset, geo)) violations.push({ urn: ruleset.urn, message });
    return violations;
  },
};
