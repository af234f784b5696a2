/**
 * Geo restriction as a Cloudflare WAF custom rule (seed §5, §7): enforced by the hub, which
 * holds the Cloudflare API token, in the `edge` tier. One rule in the zone's
 * `http_request_firewall_custom` entry-point ruleset blocks requests from outside the
 * allow-list (mode `allow`) or from the deny-list (mode `deny`); exempt hostnames pass.
 *
 * Cloudflare keeps one entry-point ruleset per zone and phase: a zone whose ruleset was made
 * by hand must be imported first (`pulumi import`), or the create fails.
 */
import * as pulumi from '@pulumi/pulumi';
import * as cloudflare from '@pulumi/cloudflare';
import { assertValidArgs, duplicates, isHostname, shown, type Rule } from './validation.js';

export const GEO_WAF_TYPE = 'felhom:edge:GeoWaf';

export interface GeoWafArgs {
  /** Cloudflare zone id of the customer domain (32 hex). */
  readonly zoneId: string;
  /** `allow`: only these countries get through; `deny`: these are blocked. */
  readonly mode: 'allow' | 'deny';
  /** ISO 3166-1 alpha-2 country codes, upper case (`HU`, `AT`). */
  readonly countries: readonly string[];
  /** Hostnames the rule never blocks (for example a public share). @default - none */
  readonly exemptHostnames?: readonly string[];
  /** What happens to a matching request. @default - block */
  readonly action?: 'block' | 'managed_challenge';
}

function quotedSet(values: readonly string[]): string {
  return `{${[...values].sort().map((value) => JSON.stringify(value)).join(' ')}}`;
}

/**
 * The rule's expression in Cloudflare's Rules language. Countries and hostnames are sorted so
 * the same spec always yields the same expression (no spurious diffs).
 */
export function geoExpression(args: Pick<GeoWafArgs, 'mode' | 'countries' | 'exemptHostnames'>): string {
  const countries = quotedSet(args.countries);
  const match = args.mode === 'allow' ? `(not ip.src.country in ${countries})` : `(ip.src.country in ${countries})`;
  const exempt = args.exemptHostnames ?? [];
  return exempt.length === 0 ? match : `${match} and not (http.host in ${quotedSet(exempt)})`;
}

/** The argument rules of {@link GeoWaf}. */
export const geoWafRules: readonly Rule<GeoWafArgs>[] = [
  { field: 'zoneId', check: (a) => (/^[0-9a-f]{32}$/.test(a.zoneId ?? '') ? undefined : `expected a Cloudflare zone id of 32 lower-case hex digits, got ${shown(a.zoneId)}`) },
  { field: 'mode', check: (a) => (a.mode === 'allow' || a.mode === 'deny' ? undefined : `expected allow or deny, got ${shown(a.mode)}`) },
  {
    field: 'countries',
    check: (a) => {
      // An empty allow-list would lock everyone out; an empty deny-list is a rule that does nothing.
      if (!Array.isArray(a.countries) || a.countries.length === 0) return `expected at least one country code, got ${shown(a.countries)}`;
      const bad = a.countries.filter((code) => !/^[A-Z]{2}$/.test(code));
      if (bad.length > 0) return `expected ISO 3166-1 alpha-2 codes in upper case such as "HU", got ${shown(bad)}`;
      const repeated = duplicates(a.countries);
      return repeated.length > 0 ? `expected each country once, got ${shown(repeated)} more than once` : undefined;
    },
  },
  {
    field: 'exemptHostnames',
    check: (a) => {
      const bad = (a.exemptHostnames ?? []).filter((h) => !isHostname(h));
      return bad.length === 0 ? undefined : `expected lower-case DNS hostnames, got ${shown(bad)}`;
    },
  },
  { field: 'action', check: (a) => (a.action === undefined || a.action === 'block' || a.action === 'managed_challenge' ? undefined : `expected block or managed_challenge, got ${shown(a.action)}`) },
];

/** The geo rule. Children: `<name>-ruleset` (cloudflare Ruleset, zone entry point). */
export class GeoWaf extends pulumi.ComponentResource {
  /** The rule's expression, for reports and the customer-visible audit log. */
  readonly expression: pulumi.Output<string>;
  readonly rulesetId: pulumi.Output<string>;

  constructor(name: string, args: GeoWafArgs, opts?: pulumi.ComponentResourceOptions) {
    assertValidArgs(GEO_WAF_TYPE, name, geoWafRules, args);
    super(GEO_WAF_TYPE, name, {}, opts);

    const expression = geoExpression(args);
    const ruleset = new cloudflare.Ruleset(
      `${name}-ruleset`,
      {
        zoneId: args.zoneId,
        kind: 'zone',
        phase: 'http_request_firewall_custom',
        name: 'felhom geo restriction',
        description: 'Managed by the Felhom hub: geo restriction from the box spec',
        rules: [
          {
            ref: 'felhom_geo',
            description: `felhom geo ${args.mode}: ${[...args.countries].sort().join(' ')}`,
            expression,
            action: args.action ?? 'block',
            enabled: true,
          },
        ],
      },
      { parent: this },
    );

    this.expression = pulumi.output(expression);
    this.rulesetId = ruleset.id;
    this.registerOutputs({ expression: this.expression, rulesetId: this.rulesetId });
  }
}
