/**
 * The hub's engine mirror: `felhom hub serve --engine-mirror <dir>` serves a folder in the
 * layout `node engine/install.mjs mirror --out <dir>` writes (Pulumi's archive names and a
 * SHA256SUMS) to enrolled boxes at `GET /v1/boxes/<box>/engine/<file>`, behind the box's API key.
 *
 * The hub stays untrusted here as everywhere: a box checks every archive against the digests
 * its own engine/plugins.json pins (or, where a digest is unknown, the SHA256SUMS plus the
 * plugin's own version) before it installs anything. Serving is all the hub does.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { HubRefusal } from './database.js';

/** The only names a mirror holds: Pulumi's archives and the digest list. No path can be built from one. */
const MIRROR_FILE = /^(?:SHA256SUMS|pulumi-[A-Za-z0-9][A-Za-z0-9._-]*\.tar\.gz)$/;

/** The engine path segment boxes fetch from, relative to the hub URL. */
export function engineMirrorPath(box: string): string {
  return `/v1/boxes/${encodeURIComponent(box)}/engine/`;
}

/** Streams one mirror file, or refuses with 404 naming what the mirror serves. */
export async function serveEngineMirrorFile(mirrorDir: string | undefined, name: string, res: ServerResponse): Promise<void> {
  if (!mirrorDir) throw new HubRefusal(404, 'ENO_ENGINE_MIRROR', 'this hub serves no engine mirror (start it with --engine-mirror <dir>)');
  if (!MIRROR_FILE.test(name)) throw new HubRefusal(404, 'ENOT_FOUND', `${JSON.stringify(name)} is not an engine mirror file (SHA256SUMS or pulumi-….tar.gz)`);
  const path = join(resolve(mirrorDir), name);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new HubRefusal(404, 'ENOT_FOUND', `the engine mirror has no ${name}`);
  res.writeHead(200, {
    'content-type': name === 'SHA256SUMS' ? 'text/plain; charset=utf-8' : 'application/gzip',
    'content-length': info.size,
    'cache-control': 'no-cache',
  });
  await new Promise<void>((done, fail) => {
    const stream = createReadStream(path);
    stream.on('error', (error) => {
      res.destroy(error);
      fail(error);
    });
    res.on('close', () => {
      stream.destroy();
      done();
    });
    stream.pipe(res);
  });
}

/** Checks `--engine-mirror` at start: a folder that exists and holds a SHA256SUMS. */
export async function checkEngineMirrorDir(dir: string): Promise<string> {
  const folder = resolve(dir);
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) throw new Error(`--engine-mirror: ${folder} is not a folder`);
  if (!(await stat(join(folder, 'SHA256SUMS')).catch(() => undefined))?.isFile()) {
    throw new Error(`--engine-mirror: ${folder} has no SHA256SUMS; make one with \`node engine/install.mjs mirror --out ${folder}\``);
  }
  return folder;
}
