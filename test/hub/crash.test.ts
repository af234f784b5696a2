/**
 * The hub's data file survives kill -9 at any moment: a child publishes in a loop, is killed at
 * a random point, and the file must still load and hold exactly a prefix of the publishes that
 * includes every one the child had acknowledged.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { HubDatabase } from '../../hub/database.js';

const publisher = fileURLToPath(new URL('../helpers/hub-publisher.ts', import.meta.url));

/** Runs the publisher until it acknowledged `minAcks`, waits `extraMs` more, kills it; returns the last ack. */
async function publishThenKill(dataDir: string, minAcks: number, extraMs: number): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, publisher, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let lastAck = 0;
  let acks = 0;
  let buffered = '';
  let killTimer: NodeJS.Timeout | undefined;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const match = /^acked (\d+)$/.exec(line);
      if (!match) continue;
      lastAck = Math.max(lastAck, Number(match[1]));
      if (++acks === minAcks) killTimer = setTimeout(() => child.kill('SIGKILL'), extraMs);
    }
  });
  const [, signal] = (await new Promise((resolve) => child.once('exit', (...args) => resolve(args)))) as [number | null, string | null];
  clearTimeout(killTimer);
  if (signal !== 'SIGKILL') throw new Error(`publisher exited on its own (signal ${signal}); see its stderr`);
  return lastAck;
}

t.test('the hub data file always loads and holds a prefix of the publishes after kill -9', async (t) => {
  const dataDir = t.testdir();
  let acknowledged = 0;
  for (let round = 1; round <= 5; round++) {
    const lastAck = await publishThenKill(dataDir, 5 + Math.floor(Math.random() * 20), Math.floor(Math.random() * 40));
    acknowledged = Math.max(acknowledged, lastAck);

    const database = await HubDatabase.open(dataDir);
    const serials = database.pendingJobs('box-1', 'host').map((job) => job.serial);
    const prefix = Array.from({ length: serials.length }, (_, i) => i + 1);
    t.same(serials, prefix, `round ${round}: the stored jobs are serials 1..${serials.length}, in order, none missing`);
    t.ok(serials.length >= acknowledged, `round ${round}: all ${acknowledged} acknowledged publishes are on disk (${serials.length} stored)`);
    t.equal(database.data.streams['box-1/host']?.lastSerial, serials.length, `round ${round}: the serial floor matches the stored jobs`);
    acknowledged = serials.length;
  }
});
