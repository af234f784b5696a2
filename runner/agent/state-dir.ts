/**
 * The agent's state directory (docs/agent.md "State directory"):
 *
 *   <state>/journal.json          job journal (runner/state/journal.ts)
 *   <state>/audit.jsonl           hash-chained audit log (runner/state/audit.ts)
 *   <state>/agent.json            ETags, the report outbox, the audit upload mark, the last drift check
 *   <state>/locks/                cross-process stack locks (runner/state/lock.ts)
 *   <state>/engine/               the Pulumi file backend (state under engine/.pulumi)
 *   <state>/envelopes/<digest>.json  envelopes as received, named by payload digest (retry after a crash)
 *   <state>/keys/                 0700: stack-passphrase (generated, 0600), hub-api-key,
 *                                 agent.key.asc + agent.key.passphrase (or FELHOM_AGENT_KEY_PASSPHRASE), agent.pub.asc
 *   <state>/secrets/<name>        the spec's `{ ref: <name> }` secrets, e.g. proxmox-api-token
 *   <state>/trust.json            the trust store `felhom agent enroll` pinned (runner/enrollment/box.ts)
 *   <state>/enrollment.json       how far `felhom agent enroll` got (box, hub, stage), so a retry resumes
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { payloadDigest, parseEnvelope } from '../envelope/index.js';
import type { ReportRequest } from '../hub/protocol.js';
import type { AuditRecord } from '../state/audit.js';
import { DurableStore, writeFileDurably } from '../state/store.js';
import { AgentSetupError } from './errors.js';
import type { CoalescedRefusals } from './refusals.js';

export interface StateLayout {
  readonly root: string;
  readonly agentState: string;
  readonly locks: string;
  readonly engine: string;
  readonly envelopes: string;
  readonly keys: string;
  readonly secrets: string;
  readonly stackPassphrase: string;
  readonly hubApiKey: string;
  readonly agentKey: string;
  readonly agentKeyPassphrase: string;
  readonly agentPublicKey: string;
  readonly trustStore: string;
  readonly enrollment: string;
}

export function stateLayout(root: string): StateLayout {
  const keys = join(root, 'keys');
  return {
    root,
    agentState: join(root, 'agent.json'),
    locks: join(root, 'locks'),
    engine: join(root, 'engine'),
    envelopes: join(root, 'envelopes'),
    keys,
    secrets: join(root, 'secrets'),
    stackPassphrase: join(keys, 'stack-passphrase'),
    hubApiKey: join(keys, 'hub-api-key'),
    agentKey: join(keys, 'agent.key.asc'),
    agentKeyPassphrase: join(keys, 'agent.key.passphrase'),
    agentPublicKey: join(keys, 'agent.pub.asc'),
    trustStore: join(root, 'trust.json'),
    enrollment: join(root, 'enrollment.json'),
  };
}

/** Creates the directories with their modes (keys and secrets 0700). */
export async function prepareStateDir(root: string): Promise<StateLayout> {
  const layout = stateLayout(root);
  await mkdir(root, { recursive: true, mode: 0o700 });
  for (const dir of [layout.locks, layout.engine, layout.envelopes]) await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const dir of [layout.keys, layout.secrets]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  }
  return layout;
}

/** Reads a one-line secret file; a missing file is undefined. Refuses files others can read. */
export async function readSecretFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentSetupError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'EIO'}`, { cause: error });
  }
  const mode = (await stat(file)).mode & 0o077;
  if (mode !== 0) throw new AgentSetupError(`${file} is readable by group or others (mode ${((await stat(file)).mode & 0o777).toString(8)}); chmod 600 it`);
  return text.replace(/\r?\n$/, '');
}

/**
 * The passphrase of the stack's Pulumi secrets, generated on first run into keys/ (0600). It
 * never comes from the spec or the hub: whoever holds the hub cannot read the stack's secrets.
 */
export async function loadOrCreateStackPassphrase(layout: StateLayout): Promise<string> {
  const existing = await readSecretFile(layout.stackPassphrase);
  if (existing) return existing;
  const passphrase = randomBytes(32).toString('base64url');
  await writeFileDurably(layout.stackPassphrase, `${passphrase}\n`, 0o600);
  return passphrase;
}

/**
 * Envelopes as received, one file per payload digest. A file is written once: a later envelope
 * with the same payload (other signatures) never replaces it, and on reading the payload must
 * still hash to the file's name, so what a digest names cannot change.
 */
export class EnvelopeArchive {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  #file(digest: string): string {
    if (!/^[0-9a-f]{64}$/.test(digest)) throw new AgentSetupError(`not an envelope digest: ${JSON.stringify(digest)}`);
    return join(this.dir, `${digest}.json`);
  }

  async put(digest: string, envelope: string): Promise<void> {
    const file = this.#file(digest);
    if ((await this.get(digest)) !== undefined) return;
    await writeFileDurably(file, envelope, 0o600);
  }

  /**
   * Removes the archived copy of `digest` when it is exactly `envelope`: a refused envelope is
   * never needed again, and a copy refused at the signature rules must not stand in for a
   * differently signed copy that arrives later.
   */
  async discard(digest: string, envelope: string): Promise<void> {
    const file = this.#file(digest);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === envelope) await rm(file, { force: true });
  }

  /** Removes every archived envelope `keep` does not name (the journal forgot it); returns how many. */
  async prune(keep: (digest: string) => boolean): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const match = /^([0-9a-f]{64})\.json$/.exec(name);
      if (!match || keep(match[1]!)) continue;
      await rm(join(this.dir, name), { force: true });
      removed += 1;
    }
    return removed;
  }

  /** The envelope text, or undefined when it is missing or no longer matches its digest. */
  async get(digest: string): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file(digest), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return payloadDigest(parseEnvelope(text).payload) === digest ? text : undefined;
    } catch {
      return undefined;
    }
  }
}

/** A report waiting to reach the hub. */
export interface OutboxReport extends ReportRequest {
  readonly box: string;
}

/** A finished envelope's report and audit record, kept until both are delivered. */
export interface OutboxRecord {
  readonly report: OutboxReport;
  readonly audit: AuditRecord;
  /** Whether the audit entry is in the local log. */
  audited: boolean;
}

export interface AgentStateData {
  version: 1;
  /** Per `<box>/<tier>`: the ETag of the spec envelope last processed to a final state. */
  specEtags: Record<string, string>;
  /** Per `<box>/<tier>`: the ETag of the job list last fetched. */
  jobEtags: Record<string, string>;
  /** Written before a journal entry turns final; removed once the hub acknowledged the report. */
  outbox: OutboxRecord[];
  /** The highest audit seq the hub acknowledged. */
  auditUploadedSeq: number;
  /** Per `<box>/<tier>`: ISO time of the last drift check. */
  lastDriftAt: Record<string, string>;
  /** The hub's audit head after the last upload: the local entry at that seq must still carry that hash. */
  auditHubHead?: { seq: number; hash: string } | null;
  /** Repeated refusals counted and not yet written to the audit log (runner/agent/refusals.ts). */
  coalesced?: CoalescedRefusals | null;
}

function checkAgentState(data: AgentStateData): string | undefined {
  if (data.version !== 1) return `unknown agent state version ${String(data.version)}`;
  if (!Array.isArray(data.outbox)) return 'outbox is not an array';
  return undefined;
}

export async function openAgentState(layout: StateLayout): Promise<DurableStore<AgentStateData>> {
  return DurableStore.open<AgentStateData>(
    layout.agentState,
    () => ({ version: 1, specEtags: {}, jobEtags: {}, outbox: [], auditUploadedSeq: 0, lastDriftAt: {} }),
    checkAgentState,
  );
}
