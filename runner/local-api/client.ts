/**
 * The controller's side of the local API (runner/local-api/server.ts): one call per verb over the
 * guest's unix socket, each with a fresh request id.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { LocalApiRefusal } from './errors.js';
import { REQUEST_ID_HEADER, type LocalApiVerb } from './server.js';

export class LocalApiClient {
  readonly socketPath: string;
  readonly #token: string;
  constructor(options: { socketPath: string; token: string }) {
    this.socketPath = options.socketPath;
    this.#token = options.token;
  }

  /** Calls `verb`; a refusal throws {@link LocalApiRefusal} with the agent's reason. */
  call<T = Record<string, unknown>>(verb: LocalApiVerb | string, args: Record<string, unknown> = {}, options: { requestId?: string; token?: string } = {}): Promise<T> {
    const body = JSON.stringify(args);
    return new Promise<T>((resolve, reject) => {
      const outgoing = request(
        {
          socketPath: this.socketPath,
          method: 'POST',
          path: `/v1/${verb}`,
          headers: {
            authorization: `Bearer ${options.token ?? this.#token}`,
            [REQUEST_ID_HEADER]: options.requestId ?? randomBytes(16).toString('base64url'),
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            let parsed: { error?: { code?: string; message?: string } } & Record<string, unknown>;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof parsed;
            } catch {
              reject(new LocalApiRefusal(response.statusCode ?? 0, 'ELOCAL_PROTOCOL', `the agent answered ${response.statusCode} without JSON`));
              return;
            }
            if (response.statusCode === 200) resolve(parsed as T);
            else reject(new LocalApiRefusal(response.statusCode ?? 0, parsed.error?.code ?? 'ELOCAL_FAILED', parsed.error?.message ?? `the agent answered ${response.statusCode}`));
          });
        },
      );
      outgoing.on('error', (error) => reject(new LocalApiRefusal(0, 'ELOCAL_UNAVAILABLE', `the local API at ${this.socketPath} cannot be reached: ${error.message}`)));
      outgoing.end(body);
    });
  }
}
