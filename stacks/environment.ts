/**
 * What a tier program needs besides the box spec: its tier's credentials and a way to turn
 * the spec's secret references into Pulumi secrets. The agent, the hub and `felhom plan`
 * each provide one; the programs never read credentials from anywhere else.
 */
import * as pulumi from '@pulumi/pulumi';
import type { SecretRef } from './spec/types.js';

export interface TierEnvironment {
  /**
   * Resolves a secret reference from the spec to its value as a Pulumi secret. The agent
   * decrypts `{ encrypted }` with its key and reads `{ ref }` from its local key store.
   */
  secret(reference: SecretRef): pulumi.Output<string>;
  /** The host tier's Proxmox API token (`user@realm!token=uuid`), held only by the agent. */
  proxmoxApiToken?(): pulumi.Output<string>;
  /** The edge tier's Cloudflare API token, held only by the hub. */
  cloudflareApiToken?(): pulumi.Output<string>;
  /** The guest tier's Docker daemon. @default - unix:///var/run/docker.sock */
  readonly dockerHost?: string;
  /**
   * Where the guest's Traefik comes from and listens: an operator's registry mirror (by digest),
   * another guest port, the daemon's socket path on that machine.
   * @default - traefik:v3.5 at stacks/guest.ts's TRAEFIK_DIGEST, port 80, /var/run/docker.sock
   */
  readonly traefik?: { readonly image?: string; readonly digest?: string; readonly httpPort?: number; readonly dockerSocket?: string };
  /** Root directory for files the host tier writes (the cloudflared unit). @default - / */
  readonly hostRootDir?: string;
  /** Whether the host tier may run systemctl. @default - true */
  readonly manageServices?: boolean;
  /** Restrict the guest tier to one guest: the controller runs only its own. @default - every guest */
  readonly guest?: string;
  /** VM ids of guests already on the host (restored in restore mode): adopted, not created. @default - none: create every guest */
  readonly adoptGuests?: readonly number[];
  /** Build only the host's storage manifest: restore mode attaches the backup sources on a bare host before restoring from them. @default - false: the whole tier */
  readonly storagesOnly?: boolean;
}

/** A name for a secret reference that never reveals its value: `ref:pbs-token` or `encrypted`. */
export function describeSecretRef(reference: SecretRef): string {
  return 'ref' in reference ? `ref:${reference.ref}` : 'encrypted';
}

/**
 * The environment `felhom plan` uses: every secret becomes a placeholder that is still a
 * Pulumi secret, so the plan shows where secrets go without holding any.
 */
export function planEnvironment(): TierEnvironment {
  const placeholder = (name: string) => pulumi.secret(`<${name}>`);
  return {
    secret: (reference) => placeholder(describeSecretRef(reference)),
    proxmoxApiToken: () => placeholder('proxmox-api-token'),
    cloudflareApiToken: () => placeholder('cloudflare-api-token'),
  };
}

/**
 * Placeholder credentials for a real engine preview (`felhom preview`): the shapes the real
 * providers check even in a preview — a Proxmox API token `USER@REALM!TOKENID=UUID` and a
 * 40-character Cloudflare token — in values that are visibly placeholders and open nothing (no
 * user `felhom-preview@pve` exists, the UUID is all zeros, the Cloudflare token has characters
 * Cloudflare never issues). Every value is still a Pulumi secret.
 */
export const PREVIEW_PROXMOX_API_TOKEN = 'felhom-preview@pve!placeholder=00000000-0000-0000-0000-000000000000';
export const PREVIEW_CLOUDFLARE_API_TOKEN = 'felhom-preview-placeholder-not-a-token__';

export function previewEnvironment(options: { dockerHost?: string } = {}): TierEnvironment {
  return {
    ...planEnvironment(),
    proxmoxApiToken: () => pulumi.secret(PREVIEW_PROXMOX_API_TOKEN),
    cloudflareApiToken: () => pulumi.secret(PREVIEW_CLOUDFLARE_API_TOKEN),
    ...(options.dockerHost ? { dockerHost: options.dockerHost } : {}),
  };
}
