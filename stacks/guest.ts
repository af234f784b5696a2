/**
 * The guest tier (`<box>.guest`), run by the controller inside a customer LXC with only that
 * guest's Docker socket and no Proxmox credentials: Traefik and one AppStack per app (docs/architecture.md#responsibilities).
 * In the company case each controller runs the program for its own guest
 * (`TierEnvironment.guest`); `felhom plan` shows every guest.
 */
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { AppStack } from '../components/app-stack.js';
import { Traefik } from '../components/traefik.js';
import { appStackArgs } from './args.js';
import type { TierEnvironment } from './environment.js';
import type { ResolvedBox } from './spec/resolve.js';
import { providerVersion } from '../engine/plugins.js';

/**
 * The Traefik image every guest runs: the component's tested tag, pinned by the multi-arch
 * index digest that several independent public projects publish for traefik:v3.5 (no
 * registry was reachable to resolve it here; re-resolve with `docker buildx imagetools
 * inspect traefik:v3.5` when moving the tag).
 */
export const TRAEFIK_DIGEST = 'sha256:16acb89c6db341182970d6fdafece31303b0a380a8ed7aa51682e225229bf1d2';

export interface GuestOutputs {
  readonly apps: Record<string, pulumi.Output<string>>;
}

export function guestProgram(box: ResolvedBox, env: TierEnvironment): GuestOutputs {
  const guests = env.guest ? box.guests.filter((guest) => guest.name === env.guest) : box.guests;
  if (env.guest && guests.length === 0) throw new Error(`box ${box.box} has no guest named "${env.guest}"`);
  const apps: Record<string, pulumi.Output<string>> = {};
  for (const guest of guests) {
    const provider = new docker.Provider(`${guest.name}-docker`, { host: env.dockerHost ?? 'unix:///var/run/docker.sock' }, { version: providerVersion('docker') });
    const traefik = new Traefik(`${guest.name}-traefik`, { digest: TRAEFIK_DIGEST, ...env.traefik }, { provider });
    for (const app of box.apps.filter((candidate) => candidate.guest === guest.name)) {
      const stack = new AppStack(
        app.name,
        appStackArgs(app),
        { provider, dependsOn: [traefik] },
      );
      apps[app.name] = stack.url;
    }
  }
  return { apps };
}
