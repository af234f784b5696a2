/**
 * `felhom agent check`: everything a box needs before an envelope can apply, checked at once
 * and listed together — every missing secret, the agent key for encrypted ones, the state
 * directory's permissions, the trust store, the engine and every plugin — so a person fixes
 * them in one go instead of learning one per failed envelope (docs/agent.md "Preflight").
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadTrustStore, parseEnvelope } from '../envelope/index.js';
import type { InstalledPlugin, LocatedEngine } from '../engine/locate.js';
import { Journal } from '../state/journal.js';
import type { Tier } from '../../stacks/spec/types.js';
import { errorCode } from './errors.js';
import { loadAgentKey, missingRefs, PROXMOX_TOKEN_REF, secretReferences } from './environment.js';
import { EnvelopeArchive, readSecretFile, stateLayout } from './state-dir.js';

export interface PreflightProblem {
  /** The reason code the agent would fail with: ESECRET, EAGENT_SETUP, ETRUST, EENGINE_MISSING, EPLUGIN_MISSING. */
  readonly code: string;
  /** What it is about: a secret's name, a file, a plugin. */
  readonly subject: string;
  readonly message: string;
}

export interface PreflightOptions {
  readonly stateDir: string;
  readonly trustPath: string;
  readonly box: string;
  readonly tier: Tier;
  /** The spec body to check the secrets of. @default - the newest spec the journal holds for (box, tier): waiting, else applied */
  readonly spec?: unknown;
  readonly env: NodeJS.ProcessEnv;
  /** Finds the engine (throws EENGINE_MISSING). */
  readonly engine: () => Promise<LocatedEngine>;
  /** The plugins the tier's program needs. */
  readonly requiredPlugins: (tier: Tier) => Promise<readonly InstalledPlugin[]>;
}

export interface PreflightResult {
  /** Where the checked spec came from: `given`, `waiting <digest>`, `applied <digest>`, or `none`. */
  readonly spec: string;
  readonly problems: readonly PreflightProblem[];
}

export async function preflight(options: PreflightOptions): Promise<PreflightResult> {
  const layout = stateLayout(options.stateDir);
  const problems: PreflightProblem[] = [];
  const add = (code: string, subject: string, message: string) => problems.push({ code, subject, message });

  // Permissions: the agent refuses key and secret directories or files others can read.
  for (const dir of [layout.keys, layout.secrets]) {
    const mode = await stat(dir).then((info) => info.mode & 0o777, () => undefined);
    if (mode === undefined) add('EAGENT_SETUP', dir, `${dir} does not exist: create it with mode 0700`);
    else if (mode & 0o077) add('EAGENT_SETUP', dir, `${dir} is readable by group or others (mode ${mode.toString(8)}); chmod 700 it`);
  }
  await readSecretFile(layout.hubApiKey).then(
    (key) => key || add('EAGENT_SETUP', layout.hubApiKey, `no hub API key in ${layout.hubApiKey}: write the key \`felhom hub enroll\` printed there (mode 0600)`),
    (error: unknown) => add(errorCode(error), layout.hubApiKey, (error as Error).message),
  );

  await loadTrustStore(options.trustPath).catch((error: unknown) => add(errorCode(error), options.trustPath, (error as Error).message));

  // Secrets: every { ref } of the spec (and the host tier's Proxmox token), all at once.
  const found = await specToCheck(options);
  const references = found.body === undefined ? [] : secretReferences(found.body);
  if (options.tier === 'host') references.push({ ref: PROXMOX_TOKEN_REF });
  const missing = await missingRefs(layout, references);
  for (const name of missing) add('ESECRET', name, `secret ref ${name} is not on this box: put it in ${join(layout.secrets, name)} (mode 0600)`);
  for (const reference of references) {
    if (!('ref' in reference) || missing.includes(reference.ref)) continue;
    await readSecretFile(join(layout.secrets, reference.ref)).catch((error: unknown) => add(errorCode(error), reference.ref, (error as Error).message));
  }
  if (references.some((reference) => 'encrypted' in reference)) {
    await loadAgentKey(layout, options.env).catch((error: unknown) => add(errorCode(error), layout.agentKey, (error as Error).message));
  }

  // The engine and every plugin the tier's program needs.
  try {
    const engine = await options.engine();
    for (const plugin of await options.requiredPlugins(options.tier)) {
      const installed = engine.plugins.some((have) => have.name === plugin.name && have.version === plugin.version.replace(/^v/, ''));
      if (!installed) add('EPLUGIN_MISSING', `${plugin.name} ${plugin.version}`, `plugin ${plugin.name} v${plugin.version.replace(/^v/, '')} is not installed in ${engine.pluginDir} (npm run engine:install)`);
    }
  } catch (error) {
    add(errorCode(error), 'engine', (error as Error).message);
  }
  return { spec: found.source, problems };
}

/** The spec to check: the one given, else the newest the journal holds (waiting first, then the last applied). */
async function specToCheck(options: PreflightOptions): Promise<{ body?: unknown; source: string }> {
  if (options.spec !== undefined) return { body: options.spec, source: 'given' };
  const journal = await Journal.open(options.stateDir);
  const archive = new EnvelopeArchive(stateLayout(options.stateDir).envelopes);
  const waiting = journal
    .unfinished()
    .filter((entry) => entry.box === options.box && entry.tier === options.tier && entry.type === 'spec')
    .sort((a, b) => b.serial - a.serial);
  const applied = journal.lastApplied(options.box, options.tier)?.specDigest;
  const candidates: [string, string][] = [...waiting.map((entry): [string, string] => [`${entry.state} ${entry.digest}`, entry.digest]), ...(applied ? [[`applied ${applied}`, applied] as [string, string]] : [])];
  for (const [source, digest] of candidates) {
    const text = await archive.get(digest);
    if (text) return { body: (JSON.parse(parseEnvelope(text).payload) as { body: unknown }).body, source };
  }
  return { source: 'none' };
}
