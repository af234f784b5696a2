/**
 * Snapshot-before-deploy from inside the guest (docs/architecture.md#snapshot-before-deploy): the in-guest controller holds no
 * Proxmox credential, so it asks the agent's local API (runner/local-api/) for each step:
 *
 *   snapshot <name>  →  deploy  →  health check  →  healthy:   delete-snapshot <name>
 *                                                 →  unhealthy: rollback <name> (the agent starts the guest again)
 *
 * A deploy that throws keeps the snapshot and does not roll back, as the host tier does
 * (docs/agent.md "Snapshot-before-deploy"): after a partial deploy the engine's state would
 * describe what the rollback removed; a person decides. A snapshot the agent refuses (the
 * guest's snapshot limit, a host failure) stops the deploy before anything changed.
 */
import { FelhomError } from '../../lib/errors.js';
import type { LocalApiClient } from '../local-api/client.js';

/** Why a guarded deploy did not succeed: `EHEALTH` (rolled back), `ESNAPSHOT` (nothing deployed), `EDEPLOY` (snapshot kept). */
export class GuardedDeployError extends FelhomError {
  declare readonly code: 'EHEALTH' | 'ESNAPSHOT' | 'EDEPLOY' | 'EROLLBACK';
  declare readonly kind: 'stalled';
  /** The snapshot left on the guest, for a person to roll back to or delete. */
  readonly snapshot: string | null;
  constructor(code: GuardedDeployError['code'], message: string, options: { snapshot: string | null; cause?: unknown }) {
    super(code, 'stalled', message, options.cause === undefined ? {} : { cause: options.cause });
    this.snapshot = options.snapshot;
  }
}

export interface GuardedDeployOptions<T> {
  readonly localApi: LocalApiClient;
  /** The snapshot's name: a letter, then letters, digits, _ or - (for example `pre-deploy-<serial>`). */
  readonly snapshotName: string;
  readonly deploy: () => Promise<T>;
  /** The post-deploy health check (the apps answer). */
  readonly healthCheck: () => Promise<{ healthy: boolean; detail: string }>;
}

export interface GuardedDeployResult<T> {
  readonly result: T;
  readonly health: { healthy: true; detail: string };
}

export async function guardedDeploy<T>(options: GuardedDeployOptions<T>): Promise<GuardedDeployResult<T>> {
  const name = options.snapshotName;
  try {
    await options.localApi.call('snapshot', { name });
  } catch (error) {
    throw new GuardedDeployError('ESNAPSHOT', `the agent did not snapshot the guest before the deploy (${(error as Error).message}); nothing was deployed`, { snapshot: null, cause: error });
  }
  let result: T;
  try {
    result = await options.deploy();
  } catch (error) {
    throw new GuardedDeployError('EDEPLOY', `the deploy failed (${(error as Error).message}); snapshot ${name} is kept for a person to roll back to`, { snapshot: name, cause: error });
  }
  let health: { healthy: boolean; detail: string };
  try {
    health = await options.healthCheck();
  } catch (error) {
    health = { healthy: false, detail: `the health check failed: ${(error as Error).message}` };
  }
  if (!health.healthy) {
    try {
      await options.localApi.call('rollback', { name });
    } catch (error) {
      throw new GuardedDeployError('EROLLBACK', `unhealthy after the deploy (${health.detail}) and the rollback to ${name} failed: ${(error as Error).message}`, { snapshot: name, cause: error });
    }
    throw new GuardedDeployError('EHEALTH', `unhealthy after the deploy (${health.detail}); the guest was rolled back to snapshot ${name}`, { snapshot: name });
  }
  // Snapshots are transient, not backups: one that is no longer needed goes.
  await options.localApi.call('delete-snapshot', { name });
  return { result, health: { healthy: true, detail: health.detail } };
}
