/**
 * The one place the command writes to stdout/stderr, so `--json` and human output never mix
 * and tests can capture both.
 */
import { inspect } from 'node:util';

export interface Output {
  /** A line of human output on stdout. */
  line(text?: string): void;
  /** A machine-readable document on stdout (for `--json`). */
  json(value: unknown): void;
  /** A diagnostic on stderr. */
  warn(text: string): void;
  /** A diagnostic on stderr only with `--debug`. */
  debug(text: string | (() => string)): void;
  /** Whether stdout and stderr are terminals (progress and colour only there). */
  readonly terminal: { readonly stdout: boolean; readonly stderr: boolean };
}

export interface OutputStreams {
  stdout: { write(chunk: string): unknown; isTTY?: boolean };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
}

export function createOutput(streams: OutputStreams = process, options: { debug?: boolean } = {}): Output {
  return {
    terminal: { stdout: streams.stdout.isTTY === true, stderr: streams.stderr.isTTY === true },
    line: (text = '') => void streams.stdout.write(`${text}\n`),
    json: (value) => void streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    warn: (text) => void streams.stderr.write(`${text}\n`),
    debug: (text) => {
      if (!options.debug) return;
      const value = typeof text === 'function' ? text() : text;
      streams.stderr.write(`debug: ${typeof value === 'string' ? value : inspect(value)}\n`);
    },
  };
}
