/**
 * One cycle of the in-guest controller (docs/architecture.md#customer-node, #snapshot-before-deploy), the part that does not depend on how
 * the guest program is run: pull the guest tier's spec with the controller's own hub credential
 * (it opens the guest tier only), verify it against the operators' trust store like any box
 * envelope (runner/envelope/), hold its serial as the rollback floor before acting, deploy it
 * inside {@link guardedDeploy} (snapshot through the local API, health check, rollback when
 * unhealthy), and report the outcome to the hub directly. The deploy itself is injected: the
 * guest program through the runner's engine in `felhom controller once|run`
 * (runner/controller/engine-deploy.ts), a program of dynamic providers or a stand-in in tests.
 *
 * State (`<state>/controller.json`): the spec ETag last finished and the rollback floor.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { EnvelopeError, parseEnvelope, payloadDigest, verifyEnvelope, type BodyValidator, type TrustStore } from '../envelope/index.js';
import type { HubClient } from '../hub/client.js';
import type { ReportRequest } from '../hub/protocol.js';
import type { LocalApiClient } from '../local-api/client.js';
import { toReason } from '../agent/errors.js';
import { DurableStore } from '../state/store.js';
import { guardedDeploy, GuardedDeployError } from './guarded-deploy.js';

export const CONTROLLER_STATE_FILE = 'controller.json';

interface ControllerState {
  version: 1;
  specEtag: string | null;
  /** The highest guest-tier serial verified here (docs/envelope.md rules 9 and 10). */
  lastSerial: number;
}

export interface ControllerCycleOptions {
  /** A client holding the controller's own credential. */
  readonly hub: HubClient;
  readonly box: string;
  readonly guest: string;
  readonly trust: TrustStore;
  readonly localApi: LocalApiClient;
  readonly stateDir: string;
  /**
   * Checks made before the snapshot (the spec resolves, the engine's plugins are there): a failure
   * is reported `failed` with its reason, and nothing is snapshotted or deployed.
   * @default - none
   */
  readonly prepare?: (body: Record<string, unknown>, serial: number) => Promise<void>;
  /** Runs the verified guest spec (the guest program through the engine). */
  readonly deploy: (body: Record<string, unknown>, serial: number) => Promise<void>;
  readonly healthCheck: () => Promise<{ healthy: boolean; detail: string }>;
  /** Long-poll wait for a new spec. @default - none: the hub answers at once */
  readonly waitSeconds?: number;
  /** Ends a long poll early (a stop). */
  readonly signal?: AbortSignal;
  /** The box spec validator. @default - the envelope's own checks only */
  readonly validateBody?: BodyValidator;
  readonly now?: () => Date;
}

export type ControllerCycleResult =
  | { readonly status: 'idle' }
  | { readonly status: 'rejected' | 'succeeded' | 'failed'; readonly serial: number | null; readonly jobId: string; readonly reason?: { code: string; message: string } };

async function openState(stateDir: string): Promise<DurableStore<ControllerState>> {
  return DurableStore.open<ControllerState>(join(stateDir, CONTROLLER_STATE_FILE), () => ({ version: 1, specEtag: null, lastSerial: 0 }), (data) =>
    data.version !== 1 || typeof data.lastSerial !== 'number' ? 'not a version 1 controller state' : undefined,
  );
}

function jobIdOf(envelope: string): string {
  try {
    return payloadDigest(parseEnvelope(envelope).payload);
  } catch {
    return createHash('sha256').update(envelope).digest('hex');
  }
}

export async function controllerCycle(options: ControllerCycleOptions): Promise<ControllerCycleResult> {
  const state = await openState(options.stateDir);
  const poll = await options.hub.fetchSpec(options.box, 'guest', {
    etag: state.data.specEtag,
    ...(options.waitSeconds ? { waitSeconds: options.waitSeconds } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (poll.status !== 'changed') return { status: 'idle' };
  const jobId = jobIdOf(poll.envelope);
  const report = async (request: Omit<ReportRequest, 'jobId' | 'tier'>) => {
    await options.hub.postReport(options.box, { jobId, tier: 'guest', ...request });
    await state.update((data) => {
      data.specEtag = poll.etag;
    });
  };
  let verified;
  try {
    verified = await verifyEnvelope(poll.envelope, {
      trust: options.trust,
      box: options.box,
      tier: 'guest',
      type: 'spec',
      ...(state.data.lastSerial > 0 ? { lastSerial: state.data.lastSerial } : {}),
      ...(options.validateBody ? { validateBody: options.validateBody } : {}),
      ...(options.now ? { now: options.now() } : {}),
    });
  } catch (error) {
    if (!(error instanceof EnvelopeError)) throw error;
    const reason = { code: error.code, message: error.message };
    await report({ outcome: 'rejected', reason });
    return { status: 'rejected', serial: null, jobId, reason };
  }
  const serial = verified.header.serial;
  // The floor holds before anything is done: a replay of this spec is refused even if the deploy fails.
  await state.update((data) => {
    data.lastSerial = serial;
  });
  const started = Date.now();
  if (options.prepare) {
    try {
      await options.prepare(verified.body, serial);
    } catch (error) {
      // Whatever stops it here, the floor is held: the spec is reported, never left half-way.
      const reason = toReason(error);
      await report({ outcome: 'failed', serial, durationMs: Date.now() - started, reason });
      return { status: 'failed', serial, jobId, reason };
    }
  }
  try {
    await guardedDeploy({
      localApi: options.localApi,
      snapshotName: `pre-deploy-${serial}`,
      deploy: () => options.deploy(verified.body, serial),
      healthCheck: options.healthCheck,
    });
  } catch (error) {
    if (!(error instanceof GuardedDeployError)) throw error;
    const reason = { code: error.code, message: error.message };
    await report({ outcome: 'failed', serial, durationMs: Date.now() - started, reason });
    return { status: 'failed', serial, jobId, reason };
  }
  await report({ outcome: 'succeeded', serial, durationMs: Date.now() - started });
  return { status: 'succeeded', serial, jobId };
}
