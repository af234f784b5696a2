// The hub's engine mirror route: enrolled boxes fetch the mirror's files with their own API key.
import t from 'tap';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkEngineMirrorDir, engineMirrorPath } from '../../hub/engine-mirror.js';
import { startTestHub } from '../helpers/hub.js';

const ARCHIVE = 'pulumi-resource-random-v4.21.1-linux-amd64.tar.gz';

async function mirrorDir(t: Tap.Test): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'felhom-hub-mirror-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'mirror');
  await mkdir(dir);
  await writeFile(join(dir, ARCHIVE), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  await writeFile(join(dir, 'SHA256SUMS'), `${'a'.repeat(64)}  ${ARCHIVE}\n`);
  await writeFile(join(dir, 'notes.txt'), 'not a mirror file');
  return dir;
}

async function get(url: string, key?: string): Promise<{ status: number; body: Buffer; code?: string; type: string | null }> {
  const response = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const body = Buffer.from(await response.arrayBuffer());
  let code: string | undefined;
  if (response.headers.get('content-type')?.startsWith('application/json')) code = (JSON.parse(body.toString()) as { error?: { code?: string } }).error?.code;
  return { status: response.status, body, type: response.headers.get('content-type'), ...(code ? { code } : {}) };
}

t.test('an enrolled box fetches the mirror files with its own key, and nobody else does', async (t) => {
  const dir = await mirrorDir(t);
  const { hub, operator } = await startTestHub(t, { engineMirrorDir: dir });
  const { apiKey } = await operator.enrollBox('box-1');
  const { apiKey: otherKey } = await operator.enrollBox('box-2');
  const base = `${hub.url}${engineMirrorPath('box-1')}`;

  const archive = await get(`${base}${ARCHIVE}`, apiKey);
  t.equal(archive.status, 200, 'the archive is served');
  t.same([...archive.body], [0x1f, 0x8b, 1, 2, 3], 'byte for byte');
  t.equal(archive.type, 'application/gzip');
  const sums = await get(`${base}SHA256SUMS`, apiKey);
  t.match(sums.body.toString(), ARCHIVE, 'the digest list is served');

  t.match(await get(`${base}${ARCHIVE}`), { status: 401, code: 'EAUTH_MISSING' }, 'no key: refused');
  t.match(await get(`${base}${ARCHIVE}`, otherKey), { status: 401, code: 'EAUTH_INVALID' }, "another box's key: refused");
  t.match(await get(`${base}notes.txt`, apiKey), { status: 404, code: 'ENOT_FOUND' }, 'only mirror files are served');
  t.match(await get(`${base}..%2Fsecret.tar.gz`, apiKey), { status: 404, code: 'ENOT_FOUND' }, 'no path leaves the mirror');
  t.match(await get(`${base}pulumi-resource-nosuch-v1.0.0-linux-amd64.tar.gz`, apiKey), { status: 404, code: 'ENOT_FOUND' }, 'a missing archive is a 404');
});

t.test('a hub started without a mirror says so', async (t) => {
  const { hub, operator } = await startTestHub(t);
  const { apiKey } = await operator.enrollBox('box-1');
  t.match(await get(`${hub.url}${engineMirrorPath('box-1')}SHA256SUMS`, apiKey), { status: 404, code: 'ENO_ENGINE_MIRROR' });
});

t.test('--engine-mirror must be a folder with a SHA256SUMS', async (t) => {
  const dir = await mirrorDir(t);
  t.equal(await checkEngineMirrorDir(dir), dir);
  await t.rejects(checkEngineMirrorDir(join(dir, 'nosuch')), /is not a folder/);
  const empty = join(dir, 'empty');
  await mkdir(empty);
  await t.rejects(checkEngineMirrorDir(empty), /has no SHA256SUMS; make one with `node engine\/install\.mjs mirror --out/);
});
