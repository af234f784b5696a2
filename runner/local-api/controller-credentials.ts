/**
 * What the agent hands the in-guest controller when it deploys it (docs/architecture.md#enrollment: "injecting the
 * controller's hub API key and its local-API token"): a hub credential of the controller's own,
 * registered at the hub by its sha256 with the box's key (it opens the guest tier only), and a
 * fresh local-API token for that guest's socket (runner/local-api/tokens.ts). Both are returned
 * once, to be written into the guest; the agent keeps neither in plain form.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { HubClient } from '../hub/client.js';
import type { LocalApiTokens } from './tokens.js';

export interface ControllerCredentials {
  /** The controller's hub API key (`Authorization: Bearer` for the box's guest tier). */
  readonly hubApiKey: string;
  /** The token for the guest's local-API socket. */
  readonly localApiToken: string;
}

/** Mints both credentials of `guest`'s controller; any earlier ones stop working. */
export async function mintControllerCredentials(options: { hub: HubClient; box: string; guest: string; tokens: LocalApiTokens }): Promise<ControllerCredentials> {
  const hubApiKey = `fhb_${randomBytes(32).toString('base64url')}`;
  // The hub first: a token for a controller the hub would refuse is no use.
  await options.hub.registerGuestCredential(options.box, options.guest, createHash('sha256').update(hubApiKey).digest('hex'));
  const localApiToken = await options.tokens.issue(options.guest);
  return { hubApiKey, localApiToken };
}
