/**
 * Headless Debian chromium for tests, driven over the DevTools protocol (Node's WebSocket): a
 * fresh profile per browser, killed and removed at teardown. Fails, never skips, without chromium.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

export const CHROMIUM = process.env.FELHOM_TEST_CHROMIUM ?? '/usr/bin/chromium';

export interface BrowserPage {
  /** Loads `url` and resolves after its load event. */
  goto(url: string): Promise<void>;
  /** Evaluates `expression` in the page; with `navigates`, resolves after the load it causes. */
  evaluate<T = unknown>(expression: string, options?: { navigates?: boolean }): Promise<T>;
  /** The page's visible text. */
  text(): Promise<string>;
}

export async function startChromium(t: Test): Promise<{ newPage(): Promise<BrowserPage> }> {
  const profile = await mkdtemp(join(tmpdir(), 'felhom-chromium-'));
  const child = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(async () => {
    child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    await rm(profile, { recursive: true, force: true });
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`chromium exited (${code}) before listening: ${seen.slice(-500)}`)));
    child.once('error', reject);
  });
  const socket = new WebSocket(endpoint);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  t.teardown(() => socket.close());
  let nextId = 0;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const listeners = new Set<(message: { method?: string; sessionId?: string }) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string }; method?: string; sessionId?: string };
    if (message.id !== undefined) {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(message.error.message));
      else waiter?.resolve(message.result);
    } else for (const listener of listeners) listener(message);
  });
  const send = <T>(method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  return {
    async newPage() {
      const { targetId } = await send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
      await send('Page.enable', {}, sessionId);
      const loaded = () =>
        new Promise<void>((resolve) => {
          const listener = (message: { method?: string; sessionId?: string }) => {
            if (message.sessionId === sessionId && message.method === 'Page.loadEventFired') {
              listeners.delete(listener);
              resolve();
            }
          };
          listeners.add(listener);
        });
      const evaluate = async <T>(expression: string, options: { navigates?: boolean } = {}) => {
        const load = options.navigates ? loaded() : undefined;
        const { result, exceptionDetails } = await send<{ result: { value?: unknown }; exceptionDetails?: { text: string; exception?: { description?: string } } }>('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId);
        if (exceptionDetails) throw new Error(`page script failed: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
        await load;
        return result.value as T;
      };
      return {
        async goto(url) {
          const load = loaded();
          await send('Page.navigate', { url }, sessionId);
          await load;
        },
        evaluate,
        text: () => evaluate<string>('document.body.innerText'),
      };
    },
  };
}
