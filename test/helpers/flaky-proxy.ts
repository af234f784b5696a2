/**
 * A real HTTP proxy in front of a real hub that fails chosen requests the way networks do: the
 * request reaches the hub and its answer is lost (`lose`), or the hub is never reached and the
 * proxy answers 502 (`refuse`). Each rule fires for the next `times` matching requests.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

export interface FlakyRule {
  readonly method: string;
  readonly path: RegExp;
  readonly mode: 'lose' | 'refuse';
  times: number;
}

export interface FlakyProxy {
  readonly url: string;
  readonly rules: FlakyRule[];
  /** Every request seen, as `METHOD /path`. */
  readonly seen: string[];
}

export async function startFlakyProxy(t: Test, target: string): Promise<FlakyProxy> {
  const upstream = new URL(target);
  const rules: FlakyRule[] = [];
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    const rule = rules.find((candidate) => candidate.times > 0 && candidate.method === req.method && candidate.path.test(req.url ?? ''));
    if (rule) rule.times -= 1;
    if (rule?.mode === 'refuse') {
      req.resume();
      res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
      return;
    }
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (rule?.mode === 'lose') {
        // The hub did the work; its answer never reaches the client.
        answer.resume();
        answer.on('end', () => res.socket?.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.socket?.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, rules, seen };
}
