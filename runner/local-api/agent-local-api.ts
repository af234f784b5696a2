/**
 * The local API as the host-tier agent serves it (docs/agent.md "The local constrained API"):
 * the guests' tokens in `<dir>/tokens.json`, a socket per guest under `<dir>/sockets/<guest>/`,
 * every call in the agent's own audit log, the guests and their limits from the signed spec
 * last applied (read at every call), the Proxmox side over the agent's PVE API access. A guest
 * that a newly applied spec adds gets its socket at {@link AgentLocalApi.refresh}, which
 * `felhom agent run` calls after each cycle.
 */
import { join } from 'node:path';
import type { Agent } from '../agent/agent.js';
import type { GuestOperations } from './guest-operations.js';
import { grantsFromSpec, LocalApiServer, type GuestGrant } from './server.js';
import { LocalApiTokens } from './tokens.js';

export const SOCKETS_DIR = 'sockets';

export interface AgentLocalApiOptions {
  /** `<state>/local-api`: the tokens and the controllers deployed. */
  readonly dir: string;
  /** Where the guests' socket directories are made. @default - `<dir>/sockets` */
  readonly socketDir?: string;
  readonly operations: GuestOperations;
  readonly rateLimit?: { readonly calls: number; readonly windowMs: number };
  readonly clock?: () => Date;
}

export class AgentLocalApi {
  readonly server: LocalApiServer;
  readonly tokens: LocalApiTokens;
  readonly #grants: () => Promise<GuestGrant[]>;
  #refreshing: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(server: LocalApiServer, tokens: LocalApiTokens, grants: () => Promise<GuestGrant[]>) {
    this.server = server;
    this.tokens = tokens;
    this.#grants = grants;
  }

  static async start(agent: Pick<Agent, 'box' | 'audit' | 'appliedSpec' | 'auditHubHead'>, options: AgentLocalApiOptions): Promise<AgentLocalApi> {
    const tokens = await LocalApiTokens.open(options.dir, options.clock ? { clock: options.clock } : {});
    // Before the first apply no guest is granted anything, and no socket exists.
    const grants = async () => {
      const spec = await agent.appliedSpec();
      return spec ? grantsFromSpec(spec.spec) : [];
    };
    const server = await LocalApiServer.start({
      box: agent.box,
      socketDir: options.socketDir ?? join(options.dir, SOCKETS_DIR),
      tokens,
      audit: agent.audit,
      operations: options.operations,
      grants,
      hubHead: () => agent.auditHubHead(),
      ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    return new AgentLocalApi(server, tokens, grants);
  }

  /** Serves every guest the applied spec names (a socket for each new one); returns their names. */
  refresh(): Promise<string[]> {
    // One refresh at a time, and none after close: a late one would bind a socket again.
    const next = this.#refreshing.then(async () => {
      if (this.#closed) return [];
      const guests = (await this.#grants()).map((grant) => grant.guest);
      for (const guest of guests) if (!this.#closed) await this.server.serve(guest);
      return guests;
    });
    this.#refreshing = next.catch(() => []);
    return next;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#refreshing;
    await this.server.close();
  }
}

/**
 * The local API `felhom agent run` serves: on the host tier when FELHOM_PROXMOX_API gives the agent
 * PVE API access (runner/agent/host-access.ts), with its token; otherwise none (there is no
 * guest-operations implementation over `pct`).
 */
export async function agentLocalApiFromEnv(
  agent: Pick<Agent, 'box' | 'tier' | 'audit' | 'appliedSpec' | 'auditHubHead'>,
  options: { env: NodeJS.ProcessEnv; stateDir: string; dir: string; socketDir?: string },
): Promise<AgentLocalApi | undefined> {
  if (agent.tier !== 'host') return undefined;
  const [{ proxmoxApiOptions }, { PveGuestOperations }] = await Promise.all([import('../agent/host-access.js'), import('./guest-operations.js')]);
  const api = await proxmoxApiOptions(options.env, options.stateDir);
  if (!api) return undefined;
  return AgentLocalApi.start(agent, { dir: options.dir, ...(options.socketDir ? { socketDir: options.socketDir } : {}), operations: new PveGuestOperations(api) });
}
