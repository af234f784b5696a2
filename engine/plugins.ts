/**
 * The engine's pins (engine/plugins.json) for the TypeScript side: which plugin, at which version,
 * each tier runs. The stacks put these versions on their explicit providers (the `version`
 * resource option, so an SDK runs against an older plugin where npm serves no SDK at the
 * plugin's version), the runner checks them before an engine starts, and engine/install.mjs
 * installs exactly these. One file says it; everything reads it.
 */
import pins from './plugins.json' with { type: 'json' };
import type { Tier } from '../stacks/spec/types.js';

export type PluginKind = 'resource' | 'language';

export interface PinnedPlugin {
  readonly kind: PluginKind;
  readonly name: string;
  /** The plugin's own version, without a `v`. */
  readonly version: string;
  /** The npm SDK that talks to it, when there is one. */
  readonly sdk?: string;
  /** The tiers whose programs use it. */
  readonly tiers: readonly Tier[];
  /** Where Pulumi's official archives of a third-party plugin are published (`github://…`). */
  readonly server?: string;
  /** sha256 of the archive per `<os>-<arch>`; null where it could not be learned. */
  readonly sha256: Readonly<Record<string, string | null>>;
}

export interface EnginePins {
  readonly cli: { readonly version: string; readonly sha256: Readonly<Record<string, string | null>> };
  readonly plugins: readonly PinnedPlugin[];
}

export const ENGINE_PINS: EnginePins = pins as EnginePins;

/** The pinned plugin of that name; throws naming the pinned ones when there is none. */
export function pinnedPlugin(name: string, kind: PluginKind = 'resource'): PinnedPlugin {
  const plugin = ENGINE_PINS.plugins.find((candidate) => candidate.name === name && candidate.kind === kind);
  if (!plugin) throw new Error(`engine/plugins.json pins no ${kind} plugin "${name}" (pinned: ${ENGINE_PINS.plugins.map((p) => p.name).join(', ')})`);
  return plugin;
}

/** The version an explicit provider of that plugin asks the engine for: its `version` option. */
export function providerVersion(name: string): string {
  return pinnedPlugin(name).version;
}

/** The resource plugins a tier's program uses, as `{ name, version }`. */
export function tierPluginPins(tier: Tier): { name: string; version: string }[] {
  return ENGINE_PINS.plugins.filter((plugin) => plugin.kind === 'resource' && plugin.tiers.includes(tier)).map(({ name, version }) => ({ name, version }));
}
