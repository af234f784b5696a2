import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { acquireLock, isProcessAlive, LockHeldError, stackLockFile } from '../../../runner/state/lock.js';

/** The pid of a process that has exited: spawned, then awaited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

t.test('the lock file names the holder and is removed on release', async (t) => {
  const file = stackLockFile(t.testdir(), 'box-1.host');
  const lock = await acquireLock(file);
  const holder = JSON.parse(await readFile(file, 'utf8')) as { pid: number; hostname: string; startedAt: string };
  t.equal(holder.pid, process.pid);
  t.equal(holder.hostname, hostname());
  t.ok(Date.parse(holder.startedAt));
  await lock.release();
  await t.rejects(readFile(file), { code: 'ENOENT' });
  await lock.release();
  t.pass('releasing twice is harmless');
});

t.test('a second holder gets LockHeldError naming the live holder', async (t) => {
  const file = stackLockFile(t.testdir(), 'box-1.host');
  const lock = await acquireLock(file);
  t.teardown(() => lock.release());
  const error = await acquireLock(file).catch((e: unknown) => e);
  t.type(error, LockHeldError);
  t.equal((error as LockHeldError).code, 'ELOCK_HELD');
  t.equal((error as LockHeldError).kind, 'waiting');
  t.equal((error as LockHeldError).holder.pid, process.pid);
  t.match((error as Error).message, `pid ${process.pid}`);
});

t.test('a lock held by another live process is respected', async (t) => {
  const file = join(t.testdir(), 'stack.lock');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  t.teardown(() => void child.kill('SIGKILL'));
  await writeFile(file, JSON.stringify({ pid: child.pid, hostname: hostname(), startedAt: new Date().toISOString(), token: 'x' }));
  t.ok(isProcessAlive(child.pid!));
  await t.rejects(acquireLock(file), { name: 'LockHeldError', holder: { pid: child.pid } });
});

t.test('a stale lock whose holder pid is dead is taken over', async (t) => {
  const file = join(t.testdir(), 'stack.lock');
  const pid = await deadPid();
  await writeFile(file, JSON.stringify({ pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z', token: 'old' }));
  const lock = await acquireLock(file);
  const holder = JSON.parse(await readFile(file, 'utf8')) as { pid: number };
  t.equal(holder.pid, process.pid, 'the new holder is this process');
  await lock.release();
});

t.test('two processes racing for one stale lock: exactly one wins', async (t) => {
  const file = join(t.testdir(), 'stack.lock');
  const pid = await deadPid();
  await writeFile(file, JSON.stringify({ pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z', token: 'old' }));
  const results = await Promise.allSettled([acquireLock(file), acquireLock(file), acquireLock(file)]);
  const won = results.filter((r) => r.status === 'fulfilled');
  t.equal(won.length, 1);
  t.ok(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof LockHeldError));
  await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
});

t.test('a lock on another host is never judged stale by pid', async (t) => {
  const file = join(t.testdir(), 'stack.lock');
  const pid = await deadPid();
  await writeFile(file, JSON.stringify({ pid, hostname: 'some-other-host', startedAt: '2026-01-01T00:00:00.000Z', token: 'x' }));
  await t.rejects(acquireLock(file), { name: 'LockHeldError', holder: { hostname: 'some-other-host' } });
});

t.test('an unreadable lock file is held while fresh and stale once old', async (t) => {
  const file = join(t.testdir(), 'stack.lock');
  await writeFile(file, '');
  await t.rejects(acquireLock(file), LockHeldError, 'a half-written lock file may be a holder mid-write');
  const lock = await acquireLock(file, { unreadableStaleAfterMs: 0 });
  t.equal((JSON.parse(await readFile(file, 'utf8')) as { pid: number }).pid, process.pid);
  await lock.release();
});

t.test('release never removes a lock another process took over', async (t) => {
  const file = join(t.testdir(), 'stack.lock');
  const lock = await acquireLock(file);
  await writeFile(file, JSON.stringify({ pid: 1, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z', token: 'someone-else' }));
  await lock.release();
  t.equal((JSON.parse(await readFile(file, 'utf8')) as { token: string }).token, 'someone-else');
});
