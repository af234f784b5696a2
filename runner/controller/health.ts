/**
 * The controller's post-deploy health check (docs/architecture.md#snapshot-before-deploy, docs/agent.md "The in-guest
 * controller"): every app of this guest that has an HTTP route answers through the guest's
 * Traefik, or every URL the operator named answers. "Answers" is a status below 400, or 401/403
 * (a login page is an app that is up); Traefik's 404 for a route it has not learned yet, and 5xx
 * for a backend that is down, are not. Apps take a while to come up after an `up`, so each target
 * is asked again every `intervalMs` until it answers or `timeoutMs` has passed since the start.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedBox } from '../../stacks/spec/resolve.js';

/** One thing to ask: a URL, and the `Host` header that selects an app's Traefik route. */
export interface HealthTarget {
  readonly url: string;
  readonly host?: string;
  /** What the detail calls it. */
  readonly name: string;
}

export interface HealthResult {
  readonly healthy: boolean;
  readonly detail: string;
}

export interface HealthCheckOptions {
  /** How long the apps get to answer. @default 60 000 ms */
  readonly timeoutMs?: number;
  /** @default 2 000 ms */
  readonly intervalMs?: number;
  /** One request's limit. @default 5 000 ms */
  readonly requestTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Where this guest's Traefik listens, as the controller reaches it from inside the guest. */
export interface TraefikAddress {
  /** @default 127.0.0.1 */
  readonly address?: string;
  /** Traefik's HTTP entrypoint. @default 80 */
  readonly port?: number;
}

/** The route of every app of `guest` that serves HTTP (its manifest's `http`), through Traefik. */
export function appTargets(box: ResolvedBox, guest: string, traefik: TraefikAddress = {}): HealthTarget[] {
  const base = `http://${traefik.address ?? '127.0.0.1'}:${traefik.port ?? 80}`;
  return box.apps
    .filter((app) => app.guest === guest && app.manifest.http)
    .map((app) => {
      const path = app.manifest.http?.path ?? '/';
      return { name: `app ${app.name}`, url: `${base}${path.startsWith('/') ? path : `/${path}`}`, host: app.hostname };
    });
}

/** Targets for the URLs the operator named (`--health-url`). */
export function urlTargets(urls: readonly string[]): HealthTarget[] {
  return urls.map((url) => ({ name: url, url }));
}

export function answers(status: number): boolean {
  return status < 400 || status === 401 || status === 403;
}

/** One GET; node:http, not fetch: fetch does not let a caller set `Host`, which selects the route. */
function get(target: HealthTarget, requestTimeoutMs: number): Promise<number> {
  const url = new URL(target.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = send(url, { method: 'GET', headers: target.host ? { host: target.host } : {}, timeout: requestTimeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error(`no answer in ${requestTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
    outgoing.on('error', reject);
    outgoing.end();
  });
}

async function ask(target: HealthTarget, requestTimeoutMs: number): Promise<string | undefined> {
  try {
    const status = await get(target, requestTimeoutMs);
    return answers(status) ? undefined : `${target.name} answered ${status}`;
  } catch (error) {
    return `${target.name} did not answer (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}

/** Asks every target until all answer or the time is up. */
export async function checkHealth(targets: readonly HealthTarget[], options: HealthCheckOptions = {}): Promise<HealthResult> {
  if (targets.length === 0) return { healthy: true, detail: 'no app with an HTTP route to check' };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const waiting = new Map(targets.map((target) => [target.name, target]));
  let problems: string[] = [];
  for (;;) {
    problems = [];
    for (const target of [...waiting.values()]) {
      const problem = await ask(target, options.requestTimeoutMs ?? 5_000);
      if (problem === undefined) waiting.delete(target.name);
      else problems.push(problem);
    }
    if (waiting.size === 0) return { healthy: true, detail: `${targets.length} answered: ${targets.map((target) => target.name).join(', ')}` };
    if (Date.now() >= deadline || options.signal?.aborted) return { healthy: false, detail: problems.join('; ') };
    await sleep(Math.max(0, Math.min(options.intervalMs ?? 2_000, deadline - Date.now())), undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
  }
}
