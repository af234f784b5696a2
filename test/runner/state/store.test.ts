import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { DurableStore, StoreCorruptError, StoreWriteError, writeFileDurably } from '../../../runner/state/store.js';

interface Doc {
  version: 1;
  items: number[];
}
const defaults = (): Doc => ({ version: 1, items: [] });

t.test('a new store starts from the defaults and persists updates across reopen', async (t) => {
  const file = join(t.testdir(), 'state', 'doc.json');
  const store = await DurableStore.open(file, defaults);
  t.same(store.data, { version: 1, items: [] });
  await store.update((data) => data.items.push(1));
  await store.update((data) => data.items.push(2));

  const reopened = await DurableStore.open(file, defaults);
  t.same(reopened.data.items, [1, 2]);
  t.equal((await stat(file)).mode & 0o777, 0o600, 'state is readable by its owner only');
});

t.test('concurrent updates are all durable when each resolves', async (t) => {
  const file = join(t.testdir(), 'doc.json');
  const store = await DurableStore.open(file, defaults);
  await Promise.all(Array.from({ length: 50 }, (_, i) => store.update((data) => data.items.push(i))));
  const onDisk = JSON.parse(await readFile(file, 'utf8')) as Doc;
  t.same(onDisk.items, Array.from({ length: 50 }, (_, i) => i));
  t.same(
    (await readdir(t.testdirName)).filter((name) => name.endsWith('.tmp')),
    [],
    'no temp files are left behind',
  );
});

t.test('update returns what the mutation returns and a throwing mutation writes nothing', async (t) => {
  const file = join(t.testdir(), 'doc.json');
  const store = await DurableStore.open(file, defaults);
  t.equal(await store.update((data) => data.items.push(7)), 1);
  await t.rejects(
    store.update(() => {
      throw new Error('refused');
    }),
    { message: 'refused' },
  );
  t.same((JSON.parse(await readFile(file, 'utf8')) as Doc).items, [7]);
});

t.test('a corrupt file is a StoreCorruptError naming the file, never a reset', async (t) => {
  const dir = t.testdir({ 'bad.json': '{"version":1,"items":[1,2', 'empty.json': '', 'array.json': '[]' });
  for (const name of ['bad.json', 'empty.json', 'array.json']) {
    const file = join(dir, name);
    const error = await DurableStore.open(file, defaults).catch((e: unknown) => e);
    t.type(error, StoreCorruptError, `${name} is reported as corrupt`);
    t.equal((error as StoreCorruptError).code, 'ESTORE_CORRUPT');
    t.equal((error as StoreCorruptError).file, file);
    t.match((error as Error).message, file);
  }
  t.equal(await readFile(join(dir, 'bad.json'), 'utf8'), '{"version":1,"items":[1,2', 'the corrupt file is left as it was');
});

t.test('a document that fails the caller check is reported as corrupt', async (t) => {
  const dir = t.testdir({ 'doc.json': '{"version":9}' });
  const error = await DurableStore.open(join(dir, 'doc.json'), defaults, (data) => (data.version === 1 ? undefined : 'unknown version')).catch((e: unknown) => e);
  t.type(error, StoreCorruptError);
  t.match((error as Error).message, /unknown version/);
});

t.test('a failed write breaks the store so memory never silently runs ahead of disk', async (t) => {
  const file = join(t.testdir(), 'doc.json');
  const store = await DurableStore.open(file, defaults);
  await store.update((data) => data.items.push(1));
  // A directory where the file was: the rename into place fails (even for root).
  await rm(file);
  await mkdir(file);
  const error = await store.update((data) => data.items.push(2)).catch((e: unknown) => e);
  t.type(error, StoreWriteError);
  t.equal((error as StoreWriteError).code, 'ESTORE_WRITE');
  t.equal((error as StoreWriteError).file, file);
  await rm(file, { recursive: true });
  await t.rejects(store.update((data) => data.items.push(3)), StoreWriteError, 'later writes are refused too');
});

t.test('writeFileDurably replaces a file whole', async (t) => {
  const file = join(t.testdir(), 'f.txt');
  await writeFile(file, 'old');
  await writeFileDurably(file, 'new content');
  t.equal(await readFile(file, 'utf8'), 'new content');
});
