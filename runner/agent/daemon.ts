/**
 * `felhom agent run`: cycles until stopped. Each cycle long-polls the hub, so an idle agent
 * sleeps inside one HTTP request; after a cycle that stopped at an error it backs off with full
 * jitter (runner/hub/backoff.ts), and every `driftIntervalMs` it checks drift.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, type BackoffOptions } from '../hub/backoff.js';
import type { Agent, CycleResult } from './agent.js';
import { toReason } from './errors.js';
import { silentLogger, type Logger } from './logger.js';

export interface DaemonOptions {
  readonly stopSignal: AbortSignal;
  /** Long-poll wait per cycle. @default 60 s */
  readonly waitSeconds?: number;
  /** @default 6 h */
  readonly driftIntervalMs?: number;
  readonly backoff?: BackoffOptions;
  readonly logger?: Logger;
  readonly clock?: () => Date;
  /** Called after each cycle (tests count them). */
  readonly onCycle?: (result: CycleResult) => void;
}

export const DEFAULT_DRIFT_INTERVAL_MS = 6 * 60 * 60 * 1000;

/** A cycle that stopped because the hub did not answer (or answered nonsense), not because of an envelope. */
function hubUnreachable(result: CycleResult): boolean {
  return result.status === 'waiting' && (result.error?.code === 'EHUB_UNAVAILABLE' || result.error?.code === 'EHUB_PROTOCOL');
}

export async function runDaemon(agent: Agent, options: DaemonOptions): Promise<void> {
  const log = options.logger ?? silentLogger;
  const backoff = new Backoff(options.backoff);
  const clock = options.clock ?? (() => new Date());
  const driftInterval = options.driftIntervalMs ?? DEFAULT_DRIFT_INTERVAL_MS;
  // The first drift check comes one interval after start: a restart loop must not hammer the engine.
  const startedAt = clock();
  log.info('agent started', { box: agent.box, tier: agent.tier, driftIntervalMs: driftInterval });
  // One line when the hub goes away and one when it answers again, however long it was away.
  let outage: { since: Date; cycles: number } | undefined;
  while (!options.stopSignal.aborted) {
    const result = await agent.cycle({ waitSeconds: options.waitSeconds ?? 60 });
    options.onCycle?.(result);
    if (hubUnreachable(result)) {
      if (!outage) log.warn('hub unreachable; the applied state stays, retrying with backoff', { reason: result.error!.code, message: result.error!.message });
      outage ??= { since: clock(), cycles: 0 };
      outage.cycles += 1;
    } else if (outage) {
      log.info('hub reachable again', { downSince: outage.since.toISOString(), downForMs: clock().getTime() - outage.since.getTime(), failedCycles: outage.cycles });
      outage = undefined;
    }
    if (options.stopSignal.aborted) break;
    if (result.status === 'waiting' || result.status === 'failed' || result.status === 'stalled') {
      // Last-known-good stays applied; the reason is in the log (and the journal for an envelope).
      const delay = backoff.next();
      log.warn('retrying after backoff', { attempt: backoff.attempt, delayMs: delay, reason: result.error?.code, step: result.error?.step });
      await sleep(delay, undefined, { signal: options.stopSignal }).catch(() => undefined);
      continue;
    }
    backoff.reset();
    const last = agent.lastDriftAt() ?? startedAt;
    if (clock().getTime() - last.getTime() >= driftInterval) {
      try {
        await agent.checkDrift();
      } catch (error) {
        log.warn('drift check failed', { ...toReason(error) });
      }
    }
  }
  log.info('agent stopped', { box: agent.box, tier: agent.tier });
}
