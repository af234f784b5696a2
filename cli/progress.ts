/**
 * Progress of long work, resource by resource as `pulumi up` shows it, on stderr (stdout keeps
 * the result and `--json`). Every event is one line, so the same text reads well on a terminal
 * and in a CI log; colour only on a terminal and never when `NO_COLOR` is set (no-color.org).
 */
import type { EngineEvent } from '@pulumi/pulumi/automation/index.js';
import type { Logger, LogLevel, SecretRegistry } from '../runner/agent/logger.js';
import type { CommandContext } from './command.js';
import { usageError } from './errors.js';

export interface Style {
  readonly color: boolean;
}

/** Colour on a terminal unless NO_COLOR is set to anything non-empty. */
export function styleFor(isTerminal: boolean, env: NodeJS.ProcessEnv): Style {
  return { color: isTerminal && !env.NO_COLOR };
}

const COLOURS = { red: 31, green: 32, yellow: 33, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
type Colour = keyof typeof COLOURS;

export function paint(style: Style, colour: Colour, text: string): string {
  return style.color ? `\u001b[${COLOURS[colour]}m${text}\u001b[0m` : text;
}

/** How pulumi marks each step: `+` create, `~` update, `-` delete, `+-` replace. */
const OPS: Readonly<Record<string, { symbol: string; colour: Colour; planned: string; doing: string; done: string }>> = {
  create: { symbol: '+', colour: 'green', planned: 'create', doing: 'creating', done: 'created' },
  update: { symbol: '~', colour: 'yellow', planned: 'update', doing: 'updating', done: 'updated' },
  delete: { symbol: '-', colour: 'red', planned: 'delete', doing: 'deleting', done: 'deleted' },
  replace: { symbol: '+-', colour: 'magenta', planned: 'replace', doing: 'replacing', done: 'replaced' },
  'create-replacement': { symbol: '++', colour: 'magenta', planned: 'create replacement', doing: 'creating replacement', done: 'created replacement' },
  'delete-replaced': { symbol: '--', colour: 'magenta', planned: 'delete original', doing: 'deleting original', done: 'deleted original' },
  read: { symbol: '>', colour: 'cyan', planned: 'read', doing: 'reading', done: 'read' },
  refresh: { symbol: '~', colour: 'cyan', planned: 'refresh', doing: 'refreshing', done: 'refreshed' },
  import: { symbol: '=', colour: 'cyan', planned: 'import', doing: 'importing', done: 'imported' },
};

/** The stack itself and the providers are the engine's own bookkeeping, not shown (as pulumi does). */
function isBookkeeping(type: string): boolean {
  return type === 'pulumi:pulumi:Stack' || type.startsWith('pulumi:providers:');
}

/** The resource's own name: the last part of its URN. */
function resourceName(urn: string): string {
  return urn.split('::').at(-1) ?? urn;
}

/** One line for a step: `  + creating  web-app  (docker:index/container:Container)`. */
export function stepLine(style: Style, op: string, phase: 'planned' | 'doing' | 'done', urn: string, type: string): string {
  const known = OPS[op] ?? { symbol: ' ', colour: 'dim' as Colour, planned: op, doing: op, done: op };
  const verb = known[phase];
  return `  ${paint(style, known.colour, `${known.symbol.padEnd(2)} ${verb.padEnd(11)}`)} ${resourceName(urn)}  ${paint(style, 'dim', `(${type})`)}`;
}

/**
 * The engine event stream of one operation as progress lines. A preview lists what it would do;
 * an up says each step as it starts and as it finishes. Unchanged resources, the stack and the
 * providers are left out, as pulumi does.
 */
export function engineProgress(write: (line: string) => void, style: Style, options: { preview: boolean }): (event: EngineEvent) => void {
  return (event) => {
    if (event.resourcePreEvent) {
      const { op, urn, type } = event.resourcePreEvent.metadata;
      if (op === 'same' || isBookkeeping(type)) return;
      write(stepLine(style, op, options.preview ? 'planned' : 'doing', urn, type));
    } else if (event.resOutputsEvent && !options.preview) {
      const { op, urn, type } = event.resOutputsEvent.metadata;
      if (op === 'same' || isBookkeeping(type)) return;
      write(stepLine(style, op, 'done', urn, type));
    } else if (event.resOpFailedEvent) {
      const { op, urn, type } = event.resOpFailedEvent.metadata;
      write(`  ${paint(style, 'red', `x  ${op} failed`.padEnd(14))} ${resourceName(urn)}  ${paint(style, 'dim', `(${type})`)}`);
    } else if (event.diagnosticEvent && (event.diagnosticEvent.severity === 'error' || event.diagnosticEvent.severity === 'warning')) {
      const { severity, urn, message } = event.diagnosticEvent;
      const first = message.split('\n').map((line) => line.trim()).find(Boolean) ?? '';
      write(`  ${paint(style, severity === 'error' ? 'red' : 'yellow', `${severity}:`)} ${urn ? `${resourceName(urn)}: ` : ''}${first}`);
    }
  };
}

const LEVEL_COLOUR: Readonly<Record<LogLevel, Colour>> = { debug: 'dim', info: 'cyan', warn: 'yellow', error: 'red' };
const ORDER: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * The agent's log for a person at a terminal (`--log-format text`): engine steps as progress
 * lines, everything else as `time level message key=value`, each line redacted like the JSON log.
 */
export function textLogger(options: { write: (line: string) => void; style: Style; level: LogLevel; secrets?: SecretRegistry; clock?: () => Date }): Logger {
  const clock = options.clock ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[level] < ORDER[options.level]) return;
    let line: string;
    const { op, urn, type } = fields as { op?: unknown; urn?: unknown; type?: unknown };
    if (message === 'resource changed' && typeof op === 'string' && typeof urn === 'string' && typeof type === 'string') {
      line = stepLine(options.style, op, 'done', urn, type);
    } else {
      const details = Object.entries(fields)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`);
      const time = clock().toISOString().slice(11, 19);
      line = [paint(options.style, 'dim', time), paint(options.style, LEVEL_COLOUR[level], level.padEnd(5)), message, ...details].join(' ');
    }
    options.write(options.secrets ? options.secrets.redact(line) : line);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

/**
 * The logger of a long-running command (`agent run|once`, `controller run|once`) from its
 * `--log-level` and `--log-format`: text lines on a terminal, else JSON lines (with journald
 * priorities under systemd); every secret in `secrets` redacted. A bad value is a usage error
 * naming the option.
 */
export async function commandLogger(context: CommandContext, options: { logLevel?: unknown; logFormat?: unknown }, secrets: SecretRegistry): Promise<Logger> {
  const { LOG_LEVELS, jsonLogger, isJournalStream } = await import('../runner/agent/logger.js');
  if (!LOG_LEVELS.includes(options.logLevel as LogLevel)) throw usageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(options.logLevel)}`);
  const level = context.debug ? 'debug' : (options.logLevel as LogLevel);
  const format = options.logFormat ?? (context.out.terminal.stderr ? 'text' : 'json');
  if (format !== 'json' && format !== 'text') throw usageError(`--log-format: expected json or text, got ${JSON.stringify(format)}`);
  return format === 'text'
    ? textLogger({ write: (line) => context.out.warn(line), style: styleFor(context.out.terminal.stderr, context.env), level, secrets })
    : jsonLogger({
        stream: { write: (chunk: string) => context.out.warn(chunk.trimEnd()) },
        secrets,
        level,
        // Under systemd, stderr is the journal: each line carries its priority.
        journald: isJournalStream(context.env),
      });
}
