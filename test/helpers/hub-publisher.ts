/**
 * Child process for the kill -9 test: publishes job envelopes for box-1/host into the hub data
 * directory given as argv[2], four in flight at a time, printing `acked <serial>` once each
 * publish is durable. It continues from the last serial on disk, and runs until killed.
 */
import { HubDatabase } from '../../hub/database.js';
import { makeEnvelope } from './hub.js';

const dataDir = process.argv[2]!;
const database = await HubDatabase.open(dataDir);
if (!database.hasBox('box-1')) await database.enroll('box-1');
let serial = database.data.streams['box-1/host']?.lastSerial ?? 0;

async function publishForever(): Promise<never> {
  for (;;) {
    const text = makeEnvelope({ type: 'job', serial: ++serial, body: { padding: 'x'.repeat(2000) } });
    const mine = serial;
    await database.publish(text, Buffer.from(text));
    process.stdout.write(`acked ${mine}\n`);
  }
}
await Promise.all([publishForever(), publishForever(), publishForever(), publishForever()]);
