/**
 * Every `felhom` command, by its words on the command line. Modules load lazily: a command
 * pays only for its own imports, which keeps `felhom verify` from loading Pulumi.
 */
import type { CommandModule } from '../command.js';

export interface CommandEntry {
  /** Words after `felhom`, for example `['keys', 'generate']`. */
  readonly path: readonly string[];
  /** One line for the help listing, shown without loading the module. */
  readonly summary: string;
  readonly load: () => Promise<{ default: CommandModule }>;
}

export const commands: readonly CommandEntry[] = [
];
