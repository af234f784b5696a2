/**
 * A hub replica as its own process, for tests that kill one with SIGKILL: starts the hub on the
 * PostgreSQL URL given as argv[2] and prints `listening <url>`.
 */
import { startHub } from '../../hub/server.js';
import { OPERATOR_TOKEN } from './hub.js';

const hub = await startHub({ database: process.argv[2]!, operatorToken: OPERATOR_TOKEN, log: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(`listening ${hub.url}\n`);
process.once('SIGTERM', () => void hub.close().then(() => process.exit(0)));
