/** `felhom hub serve`: runs the reference hub until SIGTERM/SIGINT. */
import { resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { OPERATOR_TOKEN_ENV } from '../../runner/hub/operator.js';
import { startHub } from '../../runner/hub/server.js';
import { checkEngineMirrorDir } from '../../runner/hub/engine-mirror.js';

const command: CommandModule = {
  description: 'run the reference hub (hub protocol v1) on this machine until stopped',
  configure(command) {
    command
      .requiredOption('--data <dir>', 'directory for the hub data file and the generated operator token')
      .option('--port <port>', 'TCP port (0: any free port)', '8787')
      .option('--host <address>', 'address to listen on', '127.0.0.1')
      .option('--operator-token <token>', `operator token (default: $${OPERATOR_TOKEN_ENV}, else <data>/operator-token, generated on first start)`)
      .option('--engine-mirror <dir>', 'serve this engine mirror folder (node engine/install.mjs mirror --out <dir>) to enrolled boxes')
      .option('--json', 'print the URL and the token location as JSON');
  },
  async run(context, _args, options) {
    const port = Number(options.port);
    if (!/^\d+$/.test(String(options.port)) || port > 65535) throw usageError(`--port: expected 0..65535, got ${String(options.port)}`);
    const operatorToken = (options.operatorToken as string | undefined) ?? context.env[OPERATOR_TOKEN_ENV];
    const stop = context.stopSignal;
    const engineMirrorDir = options.engineMirror ? await checkEngineMirrorDir(resolve(context.cwd, options.engineMirror as string)).catch((error: Error) => {
      throw usageError(error.message);
    }) : undefined;
    const hub = await startHub({
      dataDir: resolve(context.cwd, options.data as string),
      port,
      host: options.host as string,
      ...(operatorToken ? { operatorToken } : {}),
      ...(engineMirrorDir ? { engineMirrorDir } : {}),
      log: (line) => context.out.warn(line),
    });
    const tokenFrom = hub.operatorTokenFile ?? (options.operatorToken ? '--operator-token' : `$${OPERATOR_TOKEN_ENV}`);
    if (options.json) context.out.json({ url: hub.url, operatorToken: tokenFrom, dataFile: hub.database.file, engineMirror: engineMirrorDir ?? null });
    else {
      context.out.line(`felhom hub listening on ${hub.url}`);
      context.out.line(`operator token: ${tokenFrom}`);
      context.out.line(`data: ${hub.database.file}`);
      if (engineMirrorDir) context.out.line(`engine mirror: ${engineMirrorDir}`);
    }
    if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
    await hub.close();
    if (!options.json) context.out.line('felhom hub stopped');
  },
};
export default command;
