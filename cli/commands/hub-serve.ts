/** `felhom hub serve`: runs the reference hub until SIGTERM/SIGINT. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { CliError, usageError } from '../errors.js';
import { OPERATOR_TOKEN_ENV } from '../../runner/hub/operator.js';
import { formatRequestLog } from '../../hub/request-log.js';
import { startHub } from '../../hub/server.js';
import { checkEngineMirrorDir } from '../../hub/engine-mirror.js';

/** Where `hub serve` reads the PostgreSQL URL when --database is not given (a URL on the command line shows its password in the process list). */
export const DATABASE_URL_ENV = 'FELHOM_HUB_DATABASE_URL';

async function readPem(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new CliError('ETLS_FILE', `${flag}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { fault: 'environment' });
  }
}

const command: CommandModule = {
  description: 'run the reference hub (hub protocol v1) on this machine until stopped',
  configure(command) {
    command
      .option('--data <dir>', 'directory for the hub data file and the generated operator token (required without --database)')
      .option('--database <url>', `keep the hub's data in PostgreSQL (postgres://…) instead of <data>/hub.json (default: $${DATABASE_URL_ENV})`)
      .option('--port <port>', 'TCP port (0: any free port)', '8787')
      .option('--host <address>', 'address to listen on', '127.0.0.1')
      .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate chain (with --tls-key)')
      .option('--tls-key <file>', 'the PEM private key of --tls-cert')
      .option('--operator-token <token>', `operator token (default: $${OPERATOR_TOKEN_ENV}, else <data>/operator-token, generated on first start)`)
      .option('--engine-mirror <dir>', 'serve this engine mirror folder (node engine/install.mjs mirror --out <dir>) to enrolled boxes')
      .option('--no-request-log', 'do not print one JSON line per request on stderr')
      .option('--json', 'print the URL and the token location as JSON');
  },
  async run(context, _args, options) {
    const port = Number(options.port);
    if (!/^\d+$/.test(String(options.port)) || port > 65535) throw usageError(`--port: expected 0..65535, got ${String(options.port)}`);
    const database = (options.database as string | undefined) ?? (context.env[DATABASE_URL_ENV] || undefined);
    if (database !== undefined && !/^postgres(?:ql)?:\/\//.test(database)) throw usageError('--database: expected a postgres:// or postgresql:// URL');
    const operatorToken = (options.operatorToken as string | undefined) ?? context.env[OPERATOR_TOKEN_ENV];
    if (options.data === undefined && database === undefined) throw usageError('--data: required unless --database names a PostgreSQL database');
    if (options.data === undefined && !operatorToken) throw usageError(`without --data there is no operator token file: set $${OPERATOR_TOKEN_ENV} (or pass --operator-token)`);
    if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw usageError('--tls-cert and --tls-key: give both or neither');
    const tls = options.tlsCert !== undefined ? { cert: await readPem(resolve(context.cwd, options.tlsCert as string), '--tls-cert'), key: await readPem(resolve(context.cwd, options.tlsKey as string), '--tls-key') } : undefined;
    const stop = context.stopSignal;
    const engineMirrorDir = options.engineMirror ? await checkEngineMirrorDir(resolve(context.cwd, options.engineMirror as string)).catch((error: Error) => {
      throw usageError(error.message);
    }) : undefined;
    const hub = await startHub({
      ...(options.data !== undefined ? { dataDir: resolve(context.cwd, options.data as string) } : {}),
      ...(database !== undefined ? { database } : {}),
      ...(tls ? { tls } : {}),
      port,
      host: options.host as string,
      ...(operatorToken ? { operatorToken } : {}),
      ...(engineMirrorDir ? { engineMirrorDir } : {}),
      log: (line) => context.out.warn(line),
      ...(options.requestLog !== false ? { requestLog: (entry) => context.out.warn(formatRequestLog(entry)) } : {}),
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE' && error.code !== 'EADDRNOTAVAIL') throw error;
      const reason = error.code === 'EADDRINUSE' ? 'the port is in use (choose another --port, or 0 for any free one)' : 'the address is not on this machine';
      throw new CliError(error.code, `cannot listen on ${String(options.host)}:${port}: ${reason}`, { fault: 'environment', cause: error });
    });
    const tokenFrom = hub.operatorTokenFile ?? (options.operatorToken ? '--operator-token' : `$${OPERATOR_TOKEN_ENV}`);
    if (options.json) context.out.json({ url: hub.url, operatorToken: tokenFrom, dataFile: hub.database.location, engineMirror: engineMirrorDir ?? null });
    else {
      context.out.line(`felhom hub listening on ${hub.url}`);
      context.out.line(`operator token: ${tokenFrom}`);
      context.out.line(`data: ${hub.database.location}`);
      if (engineMirrorDir) context.out.line(`engine mirror: ${engineMirrorDir}`);
    }
    if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
    await hub.close();
    if (!options.json) context.out.line('felhom hub stopped');
  },
};
export default command;
