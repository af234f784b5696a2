/**
 * `felhom sim proxmox`: runs the Proxmox VE API simulator until SIGTERM/SIGINT. A test and demo
 * tool (docs/pve-simulator.md), not a production component: it lets the host tier, the agent and
 * the proxmoxve provider run end to end on a machine without Proxmox.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { PVE_HOST_SCHEMA } from '../../runner/sim/proxmox/schema.js';
import { startSimulator } from '../../runner/sim/proxmox/server.js';

const command: CommandModule = {
  description: "run a Proxmox VE API simulator (test and demo tool) that checks every call against PVE's API schema",
  configure(command) {
    command
      .option('--port <port>', 'TCP port (0: any free port)', '8006')
      .option('--host <address>', 'address to listen on', '127.0.0.1')
      .option('--state <file>', 'keep the simulated host in this JSON file across restarts (default: in memory)')
      .option('--schema <apidata.js>', "PVE's API schema (api-viewer/apidata.js)", PVE_HOST_SCHEMA)
      .option('--node <name>', 'the node name of a new host', 'pve')
      .option('--token <token>', 'the API token of a new host, USER@REALM!TOKENID=UUID (default: root@pam!felhom with a random UUID)')
      .option('--token-file <file>', 'write the API token to this file (mode 0600) instead of printing it')
      .option('--task-delay <ms>', 'how long each task runs', '300')
      .option('--log', 'print one line per request (method, path, status)')
      .option('--json', 'print the URL, token and certificate as JSON');
  },
  async run(context, _args, options) {
    const port = Number(options.port);
    if (!/^\d+$/.test(String(options.port)) || port > 65535) throw usageError(`--port: expected 0..65535, got ${String(options.port)}`);
    const taskDelayMs = Number(options.taskDelay);
    if (!/^\d+$/.test(String(options.taskDelay))) throw usageError(`--task-delay: expected milliseconds, got ${String(options.taskDelay)}`);
    if (!/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(String(options.node))) throw usageError(`--node: expected a node name such as "pve", got ${String(options.node)}`);
    const token = (options.token as string | undefined) ?? context.env.FELHOM_SIM_TOKEN;
    if (token !== undefined && !/^[^\s!@]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+=\S+$/.test(token)) throw usageError('--token: expected USER@REALM!TOKENID=UUID');
    const stop = context.stopSignal;
    const sim = await startSimulator({
      schemaFile: resolve(context.cwd, options.schema as string),
      ...(options.state ? { stateFile: resolve(context.cwd, options.state as string) } : {}),
      port,
      host: options.host as string,
      node: options.node as string,
      taskDelayMs,
      ...(token ? { token } : {}),
      ...(options.log ? { log: (line: string) => context.out.warn(line) } : {}),
    });
    const tokenFile = options.tokenFile ? resolve(context.cwd, options.tokenFile as string) : undefined;
    if (tokenFile) await writeFile(tokenFile, `${sim.token}\n`, { mode: 0o600 });
    const shownToken = tokenFile ? { tokenFile } : { token: sim.token };
    if (options.json) context.out.json({ url: sim.url, ...shownToken, node: sim.store.state.nodes[0]!.node, stateFile: sim.store.file ?? null, certificate: sim.certificate });
    else {
      context.out.line(`felhom PVE API simulator listening on ${sim.url} (test and demo tool, not Proxmox)`);
      context.out.line(`schema: ${resolve(context.cwd, options.schema as string)} (${sim.schema.methodCount} methods)`);
      context.out.line(tokenFile ? `API token: written to ${tokenFile}` : `API token: ${sim.token}`);
      context.out.line(`state: ${sim.store.file ?? 'in memory'}`);
    }
    if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
    await sim.close();
    if (!options.json) context.out.line('felhom PVE API simulator stopped');
  },
};
export default command;
