/**
 * One box's world for agent tests: a real hub on 127.0.0.1:0, the box enrolled, a state
 * directory with the hub API key, the spec's ref secrets and a trust store pinning alice, and
 * helpers to sign and publish specs and jobs as an operator would. Agents run the real engine
 * with the dynamic-provider test program (test/helpers/agent-program.ts).
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Test } from 'tap';
import { formatEnvelope, parseEnvelope, payloadDigest, signEnvelope, writeTrustStore, type EnvelopeContent } from '../../runner/envelope/index.js';
import { EngineRunner } from '../../runner/engine/run.js';
import { openAgent, type OpenAgentOptions } from '../../runner/agent/open.js';
import { readRoutingHeader, type RoutingHeader } from '../../hub/routing.js';
import type { Agent } from '../../runner/agent/agent.js';
import { homeBox, type DraftSpec } from './box-spec.js';
import { startTestHub, type TestHub } from './hub.js';
import { testKey, trustOf } from './keys.js';
import { testProgramFactory, type ProgramCounter } from './agent-program.js';

export const BOX = 'box-1';
const HOUR = 60 * 60 * 1000;

/** The ref secrets the home-box example names, plus the host tier's Proxmox token. */
export const REF_SECRETS: Readonly<Record<string, string>> = {
  'pbs-token': 'pbs-token-value-0123456789',
  'pbs-encryption-key': 'pbs-encryption-key-value-abcdef',
  'tunnel-token': 'tunnel-token-value-fedcba987654',
  'proxmox-api-token': 'root@pam!felhom=11111111-2222-3333-4444-555555555555',
};

/** One engine for every agent of a test process: it locates the CLI once. */
let sharedEngine: EngineRunner | undefined;
export function engineRunner(): EngineRunner {
  sharedEngine ??= new EngineRunner();
  return sharedEngine;
}

/** The home box example, addressed to {@link BOX}, with `change` applied. */
export function boxSpec(change: (spec: DraftSpec) => void = () => {}): DraftSpec {
  return homeBox((spec) => {
    spec.metadata.box = BOX;
    change(spec);
  });
}

export interface AgentWorld {
  readonly hub: TestHub;
  readonly apiKey: string;
  readonly stateDir: string;
  readonly trustPath: string;
  readonly outputDir: string;
  readonly counter: ProgramCounter;
  /** Signs (alice unless told) and returns the envelope text. */
  sign(content: Partial<EnvelopeContent> & { body: unknown }, signer?: string): Promise<string>;
  /** Signs and publishes to the hub; returns the envelope text. */
  publish(content: Partial<EnvelopeContent> & { body: unknown }, signer?: string): Promise<string>;
  /** What a compromised hub does: serves `envelope` in box-1/host's job list whatever it says, bypassing the publish checks. */
  inject(envelope: string, serial: number): Promise<void>;
  /** An agent on the world's state dir (each call a fresh one, as after a restart). */
  agent(options?: Partial<OpenAgentOptions>): Promise<Agent>;
}

export async function agentWorld(t: Test, options: { stateDir?: string } = {}): Promise<AgentWorld> {
  const hub = await startTestHub(t);
  const { apiKey } = await hub.operator.enrollBox(BOX);
  const root = t.testdir();
  const stateDir = options.stateDir ?? join(root, 'state');
  const outputDir = join(root, 'output');
  await mkdir(outputDir, { recursive: true });
  await writeWorldFiles(stateDir, apiKey);
  const trustPath = join(root, 'trust.json');
  await writeTrustStore(trustPath, await trustOf(['alice']));
  const counter: ProgramCounter = { invocations: 0 };

  const sign = async (content: Partial<EnvelopeContent> & { body: unknown }, signer = 'alice') => {
    const key = await testKey(signer);
    const now = Date.now();
    const full: EnvelopeContent = {
      type: 'spec',
      box: BOX,
      tier: 'host',
      serial: 1,
      issuedAt: new Date(now - HOUR),
      expiresAt: new Date(now + 24 * HOUR),
      ...content,
    } as EnvelopeContent;
    return formatEnvelope(await signEnvelope(full, [key.privateKey]));
  };
  return {
    hub,
    apiKey,
    stateDir,
    trustPath,
    outputDir,
    counter,
    sign,
    inject: async (envelope, serial) => {
      const streams = hub.hub.database.data.streams as Record<string, { jobs: unknown[]; lastSerial: number; spec: unknown }>;
      const stream = (streams[`${BOX}/host`] ??= { lastSerial: 0, spec: null, jobs: [] });
      let routed: RoutingHeader | undefined;
      try {
        routed = readRoutingHeader(envelope);
      } catch {
        routed = undefined;
      }
      if (routed && routed.box === BOX && routed.tier === 'host' && routed.type === 'job') {
        // Through the hub's own filing (so its job-list ETag changes), past its serial check.
        const highest = stream.lastSerial;
        stream.lastSerial = serial - 1;
        await hub.hub.database.publish(envelope, new TextEncoder().encode(envelope));
        stream.lastSerial = Math.max(highest, serial);
        return;
      }
      const digest = createHash('sha256').update(envelope).digest('hex');
      let payload: string;
      try {
        payload = payloadDigest(parseEnvelope(envelope).payload);
      } catch {
        payload = digest;
      }
      // Filed by hand (another box or tier, or not routable): only before the agent's first fetch.
      stream.jobs.push({ digest, payloadDigest: payload, serial, type: 'job', envelope, publishedAt: new Date().toISOString() });
    },
    publish: async (content, signer) => {
      const text = await sign(content, signer);
      await hub.operator.publish(text);
      return text;
    },
    agent: async (extra = {}) => {
      const agent = await openAgent({
        box: BOX,
        tier: 'host',
        stateDir,
        trustPath,
        hubUrl: hub.hub.url,
        engine: engineRunner(),
        programFor: testProgramFactory(outputDir, counter),
        hubTimeoutMs: 10_000,
        ...extra,
      });
      t.teardown(() => agent.close());
      return agent;
    },
  };
}

/** The files an enrolled box holds in its state dir before its first run. */
export async function writeWorldFiles(stateDir: string, apiKey: string): Promise<void> {
  await mkdir(join(stateDir, 'keys'), { recursive: true, mode: 0o700 });
  await mkdir(join(stateDir, 'secrets'), { recursive: true, mode: 0o700 });
  await chmod(join(stateDir, 'keys'), 0o700);
  await writeFile(join(stateDir, 'keys', 'hub-api-key'), `${apiKey}\n`, { mode: 0o600 });
  for (const [name, value] of Object.entries(REF_SECRETS)) await writeFile(join(stateDir, 'secrets', name), `${value}\n`, { mode: 0o600 });
}
