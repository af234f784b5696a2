/**
 * Geo restriction as a Cloudflare WAF custom rule (docs/architecture.md#geo-restriction): enforced by the hub, which
 * holds the Cloudflare API token, in the `edge` tier. One rule in the zone's
 * `http_request_firewall_custom` entry-point ruleset blocks requests from outside the
 * allow-list (mode `allow`) or from the deny-list (mode `deny`); exempt hostnames pass.
 *
 * Cloudflare keeps one entry-point ruleset per zone and phase: a zone whose ruleset was made
 * by hand must be imported first (`pulumi import`), or the create fails.
 */
import * as pulumi from '@pulumi/pulumi';
import * as cloudflare from '@pulumi/cloudflare';
import { checkInputs, gated, type WithInputs } from './inputs.js';
import { GEO_WAF_TYPE, geoExpression, geoWafRules, type GeoWafArgs } from './rules/geo-waf.js';

export * from './rules/geo-waf.js';

/** {@link GeoWafArgs} where the zone id may be an output (a zone lookup); the rules check it once known. */
export type GeoWafInputs = WithInputs<GeoWafArgs, 'zoneId'>;

/** The geo rule. Children: `<name>-ruleset` (cloudflare Ruleset, zone entry point). */
export class GeoWaf extends pulumi.ComponentResource {
  /** The rule's expression, for reports and the customer-visible audit log. */
  readonly expression: pulumi.Output<string>;
  readonly rulesetId: pulumi.Output<string>;

  constructor(name: string, args: GeoWafInputs, opts?: pulumi.ComponentResourceOptions) {
    const gate = checkInputs(GEO_WAF_TYPE, name, geoWafRules, args);
    super(GEO_WAF_TYPE, name, {}, opts);

    const expression = geoExpression(args);
    const ruleset = new cloudflare.Ruleset(
      `${name}-ruleset`,
      {
        zoneId: args.zoneId,
        kind: 'zone',
        phase: 'http_request_firewall_custom',
        name: 'felhom geo restriction',
        // The gate of args given as outputs rides on the description, updated in place.
        description: gated(gate, 'Managed by the Felhom hub: geo restriction from the box spec'),
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
