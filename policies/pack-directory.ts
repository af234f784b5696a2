/**
 * Where the compiled policy pack lives, and the files the engine's language host reads there,
 * apart from policies/pack.ts: the agent asks for the folder when it opens, and an idle agent
 * must not load @pulumi/policy (and the Pulumi SDK under it) for that.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FelhomError } from '../lib/errors.js';

export const POLICY_PACK_NAME = 'felhom';
export const POLICY_PACK_VERSION = '0.1.0';
/** Names the JSON file holding the resolved box spec for the pack. */
export const POLICY_BOX_ENV = 'FELHOM_POLICY_BOX';

/** The policy pack's settings file, written next to the compiled entry point. */
export const PULUMI_POLICY_YAML = [
  `name: ${POLICY_PACK_NAME}`,
  `version: ${POLICY_PACK_VERSION}`,
  'description: Felhom invariants (docs/policies.md); box context from FELHOM_POLICY_BOX',
  'runtime: nodejs',
  '',
].join('\n');

/** A box context file that cannot be used: the pack must not silently run without it. */
export class PolicyBoxError extends FelhomError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EPOLICY_BOX', 'generic', message, { ...options, fault: 'input' });
  }
}

/**
 * The pack folder's package.json: @pulumi/policy reads the pack version from `./package.json`
 * in the working directory the engine starts it in, and `main` names the entry point that
 * `run-policy-pack` requires. `type: module` keeps the compiled entry point ESM.
 */
export const POLICY_PACK_PACKAGE_JSON = `${JSON.stringify({ name: 'felhom-policy-pack', version: POLICY_PACK_VERSION, private: true, type: 'module', main: 'index.js' }, null, 2)}\n`;

/**
 * The directory to pass as `policyPacks: [dir]` or `--policy-pack dir`: the compiled entry
 * point's folder, where this writes PulumiPolicy.yaml and package.json (tsc copies neither).
 */
export function policyPackDirectory(): string {
  // Not `pack/`: `require('<dir>')` would resolve the sibling pack.js before the folder.
  const directory = join(dirname(fileURLToPath(import.meta.url)), 'policy-pack');
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, 'PulumiPolicy.yaml'), PULUMI_POLICY_YAML);
  writeFileSync(join(directory, 'package.json'), POLICY_PACK_PACKAGE_JSON);
  return directory;
}

/**
 * The compiled pack's folder, from compiled or source code alike: the engine's language host
 * runs `index.js`, so a caller running from the TypeScript sources (tests, `tsx`) gets the folder
 * under `dist/`. Throws naming `npm run build` when the project is not built.
 */
export async function compiledPolicyPackDirectory(): Promise<string> {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return policyPackDirectory();
  const compiled = join(dirname(here), '..', 'dist', 'policies', 'pack-directory.js');
  if (!existsSync(compiled)) throw new PolicyBoxError(`the policy pack is not compiled (${compiled} is missing): run npm run build`);
  const module = (await import(pathToFileURL(compiled).href)) as { policyPackDirectory: () => string };
  return module.policyPackDirectory();
}
