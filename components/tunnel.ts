/**
 * The edge part of the Cloudflare Tunnel (docs/architecture.md#networking), run by the hub in the `edge` tier: a
 * remotely-managed tunnel, its ingress rules (each app hostname and the controller UI to the
 * Traefik of the guest that serves it, then a 404 catch-all), and a proxied CNAME per hostname.
 *
 * The tunnel token is an output, always secret; the hub hands it to the box's host tier
 * (TunnelConnector) encrypted to the agent key. It is computed locally in cloudflared's own
 * token format, base64(JSON {a: account id, t: tunnel id, s: tunnel secret}), so a preview
 * needs no Cloudflare API call.
 */
import * as pulumi from '@pulumi/pulumi';
import * as cloudflare from '@pulumi/cloudflare';
import * as random from '@pulumi/random';
import { checkInputs, gated, type WithInputs } from './inputs.js';
import { duplicates, isHostname, nonEmpty, shown, type Rule } from './validation.js';

export const TUNNEL_TYPE = 'felhom:edge:Tunnel';

/** One public hostname and the origin cloudflared sends it to. */
export interface TunnelRoute {
  /** The public hostname, a lower-case DNS name such as `photos.example.com`. */
  readonly hostname: string;
  /** The origin: the serving guest's Traefik, for example `http://192.168.1.50:80`; may be an Output. */
  readonly service: pulumi.Input<string>;
}

export interface TunnelArgs {
  /** Cloudflare account id (32 hex). */
  readonly accountId: string;
  /** Cloudflare zone id of the customer domain (32 hex). */
  readonly zoneId: string;
  /** The tunnel's name in Cloudflare, for example `felhom-hb-0001`. */
  readonly tunnelName: string;
  /** Every public hostname (the apps' and the controller UI's) with its own origin, matched in this order. */
  readonly routes: readonly TunnelRoute[];
}

/**
 * {@link TunnelArgs} where the account and zone ids may be outputs (a zone lookup); the rules
 * check them once known. A route's `service` is an input already.
 */
export type TunnelInputs = WithInputs<TunnelArgs, 'accountId' | 'zoneId'>;

/** `felhom-hb-0001.example.com` → `felhom-hb-0001-example-com`: a child-name-safe form. */
export function hostnameSlug(hostname: string): string {
  return hostname.replace(/\./g, '-');
}

/** The ingress list: one rule per route in the given order, then the mandatory catch-all. */
export function ingressRules<S>(routes: readonly { readonly hostname: string; readonly service: S }[]): ({ hostname: string; service: S } | { service: string })[] {
  return [...routes.map(({ hostname, service }) => ({ hostname, service })), { service: 'http_status:404' }];
}

/** cloudflared's tunnel token: base64 of `{"a":account,"t":tunnel id,"s":base64 secret}`. */
export function tunnelToken(accountId: string, tunnelId: string, tunnelSecretBase64: string): string {
  return Buffer.from(JSON.stringify({ a: accountId, t: tunnelId, s: tunnelSecretBase64 })).toString('base64');
}

const CLOUDFLARE_ID = /^[0-9a-f]{32}$/;
const ORIGIN_URL = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/;

/** The routes when `routes` is a list, else none: the rules after the first report only once. */
function routesOf(a: TunnelArgs): readonly Partial<TunnelRoute>[] {
  return Array.isArray(a.routes) ? a.routes.map((route) => (typeof route === 'object' && route !== null ? route : {})) : [];
}

/** `routes[i].<field>: <value>` for each route whose field breaks `holds`. */
function brokenAt(a: TunnelArgs, field: keyof TunnelRoute, holds: (value: unknown) => boolean): string[] {
  return routesOf(a).flatMap((route, index) => (holds(route[field]) ? [] : [`routes[${index}].${field} ${shown(route[field])}`]));
}

/** The argument rules of {@link Tunnel}. */
export const tunnelRules: readonly Rule<TunnelArgs>[] = [
  { field: 'accountId', check: (a) => (CLOUDFLARE_ID.test(a.accountId ?? '') ? undefined : `expected a Cloudflare account id of 32 lower-case hex digits, got ${shown(a.accountId)}`) },
  { field: 'zoneId', check: (a) => (CLOUDFLARE_ID.test(a.zoneId ?? '') ? undefined : `expected a Cloudflare zone id of 32 lower-case hex digits, got ${shown(a.zoneId)}`) },
  { field: 'tunnelName', check: (a) => nonEmpty(a.tunnelName, 'a tunnel name') },
  { field: 'routes', check: (a) => (Array.isArray(a.routes) && a.routes.length > 0 ? undefined : `expected at least one route { hostname, service }, got ${shown(a.routes)}`) },
  {
    field: 'routes[].hostname',
    check: (a) => {
      const bad = brokenAt(a, 'hostname', isHostname);
      return bad.length > 0 ? `expected lower-case DNS hostnames such as "photos.example.com", got ${bad.join(', ')}` : undefined;
    },
  },
  {
    field: 'routes[].hostname',
    check: (a) => {
      const hostnames = routesOf(a).map((route) => route.hostname).filter(isHostname);
      const repeated = duplicates(hostnames);
      if (repeated.length > 0) return `expected each hostname once, got ${shown(repeated)} more than once`;
      // Two hostnames with the same slug would name two DNS records alike (`a-b.x` and `a.b-x`).
      const clashing = duplicates(hostnames.map(hostnameSlug));
      return clashing.length > 0 ? `expected hostnames whose DNS record names differ, got several named ${shown(clashing)} after replacing dots with dashes` : undefined;
    },
  },
  {
    field: 'routes[].service',
    // Only plain strings can be checked here; an Output (the guest's IP) is checked by Cloudflare.
    check: (a) => {
      const bad = brokenAt(a, 'service', (service) => (typeof service === 'string' ? ORIGIN_URL.test(service) : service !== undefined && service !== null));
      return bad.length > 0 ? `expected origin URLs such as "http://192.168.1.50:80", got ${bad.join(', ')}` : undefined;
    },
  },
];

/**
 * The tunnel. Children: `<name>-secret` (random RandomBytes, 32 bytes), `<name>-tunnel`
 * (ZeroTrustTunnelCloudflared), `<name>-config` (ZeroTrustTunnelCloudflaredConfig),
 * `<name>-dns-<hostname slug>` (DnsRecord) per route. These names have shipped: never rename them.
 */
export class Tunnel extends pulumi.ComponentResource {
  /** The tunnel's UUID. */
  readonly tunnelId: pulumi.Output<string>;
  /** The token `cloudflared tunnel run` needs; always a secret. */
  readonly tunnelToken: pulumi.Output<string>;
  /** The CNAME target of every hostname: `<tunnel id>.cfargotunnel.com`. */
  readonly cnameTarget: pulumi.Output<string>;

  constructor(name: string, args: TunnelInputs, opts?: pulumi.ComponentResourceOptions) {
    // Outputs in the ids defer the check until they are known; a route's service was always
    // allowed to be an output and is checked by Cloudflare then.
    const gate = checkInputs(TUNNEL_TYPE, name, tunnelRules, args, ['accountId', 'zoneId']);
    super(TUNNEL_TYPE, name, {}, opts);

    // Cloudflare requires at least 32 bytes, base64-encoded.
    const secret = new random.RandomBytes(`${name}-secret`, { length: 32 }, { parent: this });
    const tunnelSecret = pulumi.secret(secret.base64);

    const tunnel = new cloudflare.ZeroTrustTunnelCloudflared(
      `${name}-tunnel`,
      { accountId: args.accountId, name: gated(gate, args.tunnelName), configSrc: 'cloudflare', tunnelSecret },
      {
        parent: this,
        // The token in the hub record is reused on new hardware (docs/architecture.md#tunnel-token-reuse): never rotate the
        // secret, and so every box's connection, as a side effect of a plan.
        ignoreChanges: ['tunnelSecret'],
      },
    );

    new cloudflare.ZeroTrustTunnelCloudflaredConfig(
      `${name}-config`,
      {
        accountId: args.accountId,
        tunnelId: tunnel.id,
        source: 'cloudflare',
        config: { ingresses: ingressRules(args.routes) },
      },
      { parent: this },
    );

    const cnameTarget = pulumi.interpolate`${tunnel.id}.cfargotunnel.com`;
    for (const { hostname } of args.routes) {
      new cloudflare.DnsRecord(
        `${name}-dns-${hostnameSlug(hostname)}`,
        { zoneId: args.zoneId, name: hostname, type: 'CNAME', content: cnameTarget, proxied: true, ttl: 1, comment: `felhom tunnel ${args.tunnelName}` },
        { parent: this },
      );
    }

    this.tunnelId = tunnel.id;
    this.cnameTarget = cnameTarget;
    this.tunnelToken = pulumi.secret(pulumi.all([args.accountId, tunnel.id, tunnelSecret]).apply(([accountId, id, s]) => tunnelToken(accountId, id, s)));
    this.registerOutputs({ tunnelId: this.tunnelId, tunnelToken: this.tunnelToken, cnameTarget: this.cnameTarget });
  }
}
