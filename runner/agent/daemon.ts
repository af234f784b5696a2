/**
 * `felhom agent run`: cycles until stopped. Each cycle long-polls the hub, so an idle agent
 * sleeps inside one HTTP request; after a cycle that stopped at an error, or one in which the hub
 * served envelopes that brought only refusals (a hostile or broken hub answering at once with a
 * fresh ETag), it backs off with full jitter (runner/hub/backoff.ts); every `driftIntervalMs`
 * it checks drift.
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
  /** Waits between cycles; tests pass one that advances a fake clock. @default - node:timers/promises setTimeout */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Whether a cycle that ran to its end still calls for backoff: the hub served envelopes and none
 * of them came to anything (every one refused, or already known). A cycle that applied or failed
 * an envelope, or in which the hub had nothing new, does not.
 */
export function broughtOnlyRefusals(result: CycleResult): boolean {
  return result.served > 0 && !result.items.some((item) => item.outcome === 'succeeded' || item.outcome === 'failed');
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
  const wait = options.sleep ?? ((ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }).then(() => undefined));
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
    if (result.status === 'waiting' || result.status === 'failed' || result.status === 'stalled' || broughtOnlyRefusals(result)) {
      // Last-known-good stays applied; the reason is in the log (and the journal for an envelope).
      const delay = backoff.next();
      const reason = result.error?.code ?? (result.error ? undefined : 'ONLY_REFUSALS');
      log.warn('retrying after backoff', { attempt: backoff.attempt, delayMs: delay, reason, step: result.error?.step ?? 'fetch' });
      await wait(delay, options.stopSignal).catch(() => undefined);
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
