/**
 * Option names every command spells the same way (docs/operator-guide.md, "Flags"):
 *
 * - `--out <file>` is always one file; `--out-dir <dir>` a folder the command fills;
 * - `--key <private.asc>` is always a private key the command signs or decrypts with;
 *   `--public-key <pub.asc>` a public key it pins; `--to <pub.asc>` a key it encrypts to;
 * - `--operator-token` the hub's operator token, `--hub` its URL, `--state` an agent state folder.
 *
 * An old spelling keeps working for one release through {@link renamedOption}: it sets the new
 * option and prints one deprecation line on stderr.
 */
import { Option, type Command } from 'commander';
import { OPERATOR_TOKEN_ENV, HUB_URL_ENV } from '../runner/hub/operator.js';

/** The release after which the deprecated spellings stop working. */
export const DEPRECATED_UNTIL = '0.2.0';

/**
 * Accepts `oldFlags` (for example `--token <token>`) as a hidden alias of the already declared
 * option `newFlag` (`--operator-token`). The alias goes through the new option's own parser, so a
 * repeatable option keeps collecting, and a required new option is satisfied by the old spelling.
 */
export function renamedOption(command: Command, oldFlags: string, newFlag: string): Command {
  const target = command.options.find((option) => option.long === newFlag);
  if (!target) throw new Error(`renamedOption: ${command.name()} has no option ${newFlag}`);
  const old = new Option(oldFlags, `deprecated spelling of ${newFlag}`).hideHelp();
  command.addOption(old);
  let warned = false;
  command.on(`option:${old.name()}`, (value: string | undefined) => {
    const attribute = target.attributeName();
    const previous: unknown = command.getOptionValueSource(attribute) === 'cli' ? command.getOptionValue(attribute) : undefined;
    const next = value === undefined ? true : target.parseArg ? target.parseArg(value, previous) : value;
    command.setOptionValueWithSource(attribute, next, 'cli');
    if (warned) return;
    warned = true;
    command.configureOutput().writeErr?.(`felhom: warning: ${old.long} is deprecated and goes away in ${DEPRECATED_UNTIL}; use ${newFlag}\n`);
  });
  return command;
}

/** `--hub` and `--operator-token` (old spelling `--token`), for the commands that talk to the hub as the operator. */
export function hubOperatorOptions(command: Command): Command {
  command
    .option('--hub <url>', `hub URL (default: $${HUB_URL_ENV})`)
    .option('--operator-token <token>', `operator token (default: $${OPERATOR_TOKEN_ENV}; prefer the variable: flags show in ps)`);
  return renamedOption(command, '--token <token>', '--operator-token');
}
