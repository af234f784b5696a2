/**
 * What the engine planned, resource by resource, the way `pulumi preview --diff` shows it: the
 * operation, the type, the name and the inputs that change, with every secret masked. Built from
 * the engine's resource pre-events (the Automation API's `StepEventMetadata`); the engine already
 * replaces secret values there by `[secret]`, and {@link displayValue} masks any secret value that
 * still arrives in Pulumi's wire form, so a diff is safe to print, log and report.
 *
 * Also the engine's diagnostics, per resource, for a failure: which resource the provider refused
 * and why (`felhom preview` prints them; the agent's reports carry them).
 */
import type { PropertyDiff, StepEventMetadata } from '@pulumi/pulumi/automation/index.js';

/** How one input changes. */
export interface PropertyChange {
  /** The property path, in Pulumi's form: `image`, `ports[0].external`, `labels["a.b"]`. */
  readonly path: string;
  readonly kind: 'add' | 'update' | 'delete';
  /** The change forces a replacement of the resource. */
  readonly replaces: boolean;
  /** The old value, for display (secrets masked), when there was one. */
  readonly old?: string;
  /** The new value, for display (secrets masked), when there is one. */
  readonly new?: string;
}

/** One step the engine planned or took, from its resource pre-events. */
export interface EngineStep {
  readonly urn: string;
  readonly type: string;
  /** `create`, `update`, `delete`, `replace`, `create-replacement`, `same`, `read`, `refresh`, ... */
  readonly op: string;
  /** The resource's name: the last part of its URN. */
  readonly name: string;
  /** The inputs that change: every input of a create, the differing ones of an update or replace. */
  readonly changes: readonly PropertyChange[];
}

/** A diagnostic the engine emitted, tied to a resource when it names one. */
export interface EngineDiagnostic {
  readonly severity: 'error' | 'warning';
  /** The resource the diagnostic is about. @default - none: about the whole operation */
  readonly urn?: string;
  readonly message: string;
}

export const SECRET_MASK = '[secret]';
/** The signature key of a secret in Pulumi's serialized property values. */
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
const SIG_KEY = '4dabf18193072939515e22adb298388d';
const MAX_VALUE_CHARS = 160;

/** The last component of a URN: `urn:pulumi:s::p::a$b::name` → `name`. */
export function urnName(urn: string): string {
  const at = urn.lastIndexOf('::');
  return at < 0 ? urn : urn.slice(at + 2);
}

/** A value as one display line: JSON, secrets masked, long values cut. */
export function displayValue(value: unknown): string {
  const text = JSON.stringify(maskSecrets(value)) ?? 'undefined';
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 3)}...` : text;
}

function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  if (record[SIG_KEY] === SECRET_SIG) return SECRET_MASK;
  return Object.fromEntries(Object.entries(record).map(([key, inner]) => [key, maskSecrets(inner)]));
}

/** Splits `a.b[0]["c.d"]` into `['a', 'b', 0, 'c.d']`. */
export function parsePropertyPath(path: string): (string | number)[] {
  const parts: (string | number)[] = [];
  const token = /([^.[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  for (const match of path.matchAll(token)) {
    if (match[1] !== undefined) parts.push(match[1]);
    else if (match[2] !== undefined) parts.push(Number(match[2]));
    else if (match[3] !== undefined) parts.push(match[3].replace(/\\(.)/g, '$1'));
  }
  return parts;
}

function valueAt(root: unknown, path: string): { found: boolean; value?: unknown } {
  let current: unknown = root;
  for (const part of parsePropertyPath(path)) {
    if (current === null || typeof current !== 'object') return { found: false };
    const container = current as Record<string | number, unknown>;
    if (!(part in container)) return { found: false };
    current = container[part];
  }
  return { found: true, value: current };
}

/** Input keys the engine and SDKs keep for themselves, never a change a person made. */
const INTERNAL_KEY = /^__/;

function change(path: string, kind: PropertyChange['kind'], replaces: boolean, oldInputs: unknown, newInputs: unknown): PropertyChange {
  const before = valueAt(oldInputs, path);
  const after = valueAt(newInputs, path);
  return {
    path,
    kind,
    replaces,
    ...(kind !== 'add' && before.found ? { old: displayValue(before.value) } : {}),
    ...(kind !== 'delete' && after.found ? { new: displayValue(after.value) } : {}),
  };
}

function kindOf(diff: PropertyDiff): { kind: PropertyChange['kind']; replaces: boolean } {
  const [kind, replace] = diff.diffKind.split('-') as [PropertyChange['kind'], string | undefined];
  return { kind, replaces: replace === 'replace' };
}

function differingKeys(oldInputs: Record<string, unknown>, newInputs: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(oldInputs), ...Object.keys(newInputs)])];
  const differing = keys.filter((key) => JSON.stringify(maskSecrets(oldInputs[key])) !== JSON.stringify(maskSecrets(newInputs[key])));
  // Masked on both sides, a changed secret looks unchanged: when nothing visible differs, the
  // engine's update is about a secret, and those are the keys to name.
  return differing.length > 0 ? differing : keys.filter((key) => maskSecrets(oldInputs[key]) === SECRET_MASK || maskSecrets(newInputs[key]) === SECRET_MASK);
}

/** The {@link EngineStep} of one resource pre-event. */
export function stepFromMetadata(metadata: StepEventMetadata): EngineStep {
  const { urn, type, op } = metadata;
  const oldInputs = metadata.old?.inputs ?? {};
  const newInputs = metadata.new?.inputs ?? {};
  const changes: PropertyChange[] = [];
  const replaceKeys = new Set(metadata.keys ?? []);
  if (op === 'create' || op === 'create-replacement') {
    if (op === 'create') {
      for (const key of Object.keys(newInputs).sort()) {
        if (!INTERNAL_KEY.test(key)) changes.push(change(key, 'add', false, oldInputs, newInputs));
      }
    }
  } else if (op !== 'same' && op !== 'delete' && op !== 'read' && op !== 'discard') {
    if (metadata.detailedDiff && Object.keys(metadata.detailedDiff).length > 0) {
      for (const [path, diff] of Object.entries(metadata.detailedDiff).sort(([a], [b]) => a.localeCompare(b))) {
        if (INTERNAL_KEY.test(path)) continue;
        const { kind, replaces } = kindOf(diff);
        changes.push(change(path, kind, replaces || replaceKeys.has(path), oldInputs, newInputs));
      }
    } else {
      // Without the provider's list, the inputs themselves say what differs (as the CLI's own diff does).
      const keys = metadata.diffs && metadata.diffs.length > 0 ? metadata.diffs : differingKeys(oldInputs, newInputs);
      for (const key of [...keys].sort()) {
        if (INTERNAL_KEY.test(key)) continue;
        const kind = !(key in oldInputs) ? 'add' : !(key in newInputs) ? 'delete' : 'update';
        changes.push(change(key, kind, replaceKeys.has(key), oldInputs, newInputs));
      }
    }
  }
  return { urn, type, op, name: urnName(urn), changes };
}

/** The sign `pulumi preview` prints before a step. */
export function opSymbol(op: string): string {
  switch (op) {
    case 'create':
      return '+';
    case 'update':
      return '~';
    case 'delete':
    case 'discard':
      return '-';
    case 'replace':
    case 'create-replacement':
    case 'delete-replaced':
      return '+-';
    case 'read':
    case 'refresh':
      return '>';
    case 'import':
      return '=';
    default:
      return ' ';
  }
}

/** Steps of a replacement the engine reports besides the `replace` step itself. */
const REPLACEMENT_PARTS = new Set(['create-replacement', 'delete-replaced']);

/**
 * The diff as lines: one per changing resource (`+ type name`), its changed inputs indented
 * under it (`~ image: "a" => "b"`), unchanged resources counted, not listed.
 */
export function renderDiff(steps: readonly EngineStep[]): string[] {
  const lines: string[] = [];
  const shown = steps.filter((step) => step.op !== 'same' && !REPLACEMENT_PARTS.has(step.op));
  for (const step of shown) {
    lines.push(`  ${opSymbol(step.op).padEnd(2)} ${step.type}  ${step.name}${step.op === 'create' || step.op === 'update' || step.op === 'delete' ? '' : `  (${step.op})`}`);
    for (const propertyChange of step.changes) {
      const mark = propertyChange.kind === 'add' ? '+' : propertyChange.kind === 'delete' ? '-' : '~';
      const value =
        propertyChange.kind === 'update' ? `${propertyChange.old ?? 'undefined'} => ${propertyChange.new ?? 'undefined'}` : propertyChange.kind === 'add' ? (propertyChange.new ?? 'undefined') : (propertyChange.old ?? '');
      lines.push(`        ${mark} ${propertyChange.path}: ${value}${propertyChange.replaces ? '  (forces replacement)' : ''}`);
    }
  }
  const same = steps.filter((step) => step.op === 'same').length;
  if (same > 0) lines.push(`     ${same} unchanged`);
  return lines;
}

/**
 * Diagnostics as lines for people, one per resource (`<name> (<type>): <message>`), the
 * operation's own last (the engine's closing `preview failed` says nothing once a resource named
 * the cause, so it is left out then).
 */
export function renderDiagnostics(diagnostics: readonly EngineDiagnostic[], typeOf: (urn: string) => string | undefined = () => undefined): string[] {
  const about = diagnostics.filter((diagnostic) => diagnostic.urn);
  const general = diagnostics.filter((diagnostic) => !diagnostic.urn && !(about.length > 0 && /^(update|preview|refresh|destroy) failed$/.test(diagnostic.message)));
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const diagnostic of [...about, ...general]) {
    const type = diagnostic.urn ? (typeOf(diagnostic.urn) ?? urnType(diagnostic.urn)) : undefined;
    const where = diagnostic.urn ? `${urnName(diagnostic.urn)} (${type})` : 'engine';
    const line = `${diagnostic.severity}: ${where}: ${oneLine(diagnostic.message)}`;
    if (!seen.has(line)) lines.push(line);
    seen.add(line);
  }
  return lines;
}

/** The type in a URN: the last `$`-separated part of its qualified type. */
export function urnType(urn: string): string {
  const qualified = urn.split('::')[2] ?? '';
  return qualified.split('$').at(-1) ?? qualified;
}

/** A diagnostic's text on one line: the engine wraps provider errors over several. */
export function oneLine(text: string): string {
  const joined = text
    .split('\n')
    .map((part) => part.trim())
    .filter(Boolean)
    .join(' ')
    .replace(/\s+/g, ' ');
  return joined.length > 500 ? `${joined.slice(0, 497)}...` : joined;
}
