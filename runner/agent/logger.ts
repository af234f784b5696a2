/**
 * The agent's logger: JSON lines (one object per line: time, level, msg, fields) for the
 * daemon's stderr, which journald keeps. Every value passes through a redactor that replaces
 * any secret the agent holds in memory (the stack passphrase, decrypted spec secrets, the hub
 * API key) with `[secret]`, so a secret never reaches a log even when a library quotes it.
 */
import { fstatSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** syslog priorities as sd-daemon(3) spells them for a line on a journald stream: `<3>` error … `<7>` debug. */
export const JOURNALD_PRIORITY: Readonly<Record<LogLevel, number>> = { error: 3, warn: 4, info: 6, debug: 7 };

/**
 * Whether file descriptor `fd` is the journald stream systemd connected (sd-daemon(3), systemd.exec(5)):
 * `$JOURNAL_STREAM` names its `device:inode`, and only a descriptor that is still that stream
 * (not redirected to a file or a pipe) gets the `<N>` priority prefixes.
 */
export function isJournalStream(env: NodeJS.ProcessEnv, fd = 2): boolean {
  const match = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!match) return false;
  try {
    const stat = fstatSync(fd, { bigint: true });
    return stat.dev === BigInt(match[1]!) && stat.ino === BigInt(match[2]!);
  } catch {
    return false;
  }
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** The secret values the process holds; the logger masks each of them. */
export class SecretRegistry {
  readonly #values = new Set<string>();
  add(value: string): void {
    // Very short values would mask ordinary words; every real secret here is long.
    if (value.length >= 6) this.#values.add(value);
  }
  redact(text: string): string {
    let result = text;
    for (const value of this.#values) if (result.includes(value)) result = result.split(value).join('[secret]');
    return result;
  }
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface JsonLoggerOptions {
  /** @default process.stderr */
  readonly stream?: { write(chunk: string): unknown };
  /** @default info */
  readonly level?: LogLevel;
  readonly secrets?: SecretRegistry;
  readonly clock?: () => Date;
  /** Prefix each line with its journald priority (`<4>{...}`), so `journalctl -p warning` selects it. @default false */
  readonly journald?: boolean;
}

/** A logger writing JSON lines. */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const threshold = ORDER[options.level ?? 'info'];
  const clock = options.clock ?? (() => new Date());
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < threshold) return;
    let line: string;
    try {
      line = JSON.stringify({ time: clock().toISOString(), level, msg, ...fields });
    } catch {
      line = JSON.stringify({ time: clock().toISOString(), level, msg, note: 'fields were not serialisable' });
    }
    const prefix = options.journald ? `<${JOURNALD_PRIORITY[level]}>` : '';
    stream.write(`${prefix}${options.secrets ? options.secrets.redact(line) : line}\n`);
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
