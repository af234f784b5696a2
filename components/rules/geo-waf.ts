/**
 * The geo WAF's argument types and rules (components/geo-waf.ts): pure functions that need no
 * Pulumi runtime, so the box spec validator checks a spec with the same rules the component applies.
 */
import { countryHint, isCountryCode } from '../countries.js';
import { duplicates, isHostname, shown, type Rule } from '../validation.js';

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
      const bad = a.countries.filter((code) => !isCountryCode(code));
      if (bad.length > 0) return `expected ISO 3166-1 alpha-2 codes in upper case such as "HU", got ${bad.map((code) => `${shown(code)} (${typeof code === 'string' ? countryHint(code) : 'not a code'})`).join(', ')}`;
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
