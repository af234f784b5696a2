/**
 * The edge tier (`<box>.edge`), run by the hub with the Cloudflare API token: the tunnel's
 * Cloudflare side (tunnel, ingress, DNS) and the geo WAF (docs/architecture.md#trust-boundaries, #geo-restriction). The tunnel token it
 * outputs reaches the host tier through the hub record, encrypted to the agent key.
 */
import * as cloudflare from '@pulumi/cloudflare';
import * as pulumi from '@pulumi/pulumi';
import { GeoWaf } from '../components/geo-waf.js';
import { Tunnel } from '../components/tunnel.js';
import { geoWafArgs } from './args.js';
import type { TierEnvironment } from './environment.js';
import type { ResolvedBox } from './spec/resolve.js';
import { providerVersion } from '../engine/plugins.js';

export interface EdgeOutputs {
  readonly tunnelId: pulumi.Output<string>;
  /** Secret: the hub stores it encrypted to the agent key as spec.edge.tunnel.token. */
  readonly tunnelToken: pulumi.Output<string>;
}

/** Every public hostname and the guest serving it: the controller UI (its own port), then the apps (the guest's Traefik). */
export function edgeRoutes(box: ResolvedBox): { hostname: string; service: string }[] {
  const guestOf = (guestName: string) => box.guests.find((guest) => guest.name === guestName)!;
  return [
    { hostname: box.edge.controllerHostname, service: guestOf(box.edge.controllerGuest).controllerUiUrl },
    ...box.apps.map((app) => ({ hostname: app.hostname, service: guestOf(app.guest).serviceUrl })),
  ];
}

export function edgeProgram(box: ResolvedBox, env: TierEnvironment): EdgeOutputs {
  if (!env.cloudflareApiToken) throw new Error('the edge tier needs the Cloudflare API token, which only the hub holds');
  const provider = new cloudflare.Provider(`${box.box}-cloudflare`, { apiToken: env.cloudflareApiToken() }, { version: providerVersion('cloudflare') });
  const tunnel = new Tunnel(
    box.edge.tunnelName,
    { accountId: box.edge.accountId, zoneId: box.edge.zoneId, tunnelName: box.edge.tunnelName, routes: edgeRoutes(box) },
    { provider },
  );
  const geo = geoWafArgs(box);
  if (geo) new GeoWaf(`${box.box}-geo`, geo, { provider });
  return { tunnelId: tunnel.tunnelId, tunnelToken: tunnel.tunnelToken };
}
