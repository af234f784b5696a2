/**
 * The validation plumbing every document validator shares (the catalog manifest, the golden
 * template, the Compose importer, the box spec, the envelope and hub messages): a problem is
 * `{ path, message }`, paths read like the document (`services[1].image`), values are named the
 * same way in every message, YAML is parsed with positions so a problem can say where in the
 * file it is, and {@link ProblemList} collects every problem of one document instead of
 * throwing at the first. It imports nothing from the project: the catalog (templates/lib) is
 * the lower layer, the box spec (stacks/spec) builds on it.
 */
import { isNode, LineCounter, parseDocument } from 'yaml';

export interface Problem {
  /** Where, in the document's own words: `spec.storage[1].identity`; empty or `(document)` for the whole document. */
  readonly path: string;
  /** What was expected and what was given. */
  readonly message: string;
}

/** The path of the document as a whole. */
export const DOCUMENT_PATH = '(document)';

/** `path: message`, one line, as commands print it. */
export function formatProblem(problem: Problem): string {
  return `${problem.path || DOCUMENT_PATH}: ${problem.message}`;
}

/** `spec.apps` + `2` → `spec.apps[2]`; `spec` + `host` → `spec.host`; `env` + `a b` → `env["a b"]`. */
export function joinPath(base: string, key: string | number): string {
  if (base === DOCUMENT_PATH) base = '';
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base ? `${base}.${key}` : key;
}

/** Splits a {@link joinPath} path (`spec.apps[2].volumes["a b"]`) back into its keys. */
function pathKeys(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g)) {
    if (match[2] !== undefined) keys.push(Number(match[2]));
    else if (match[3] !== undefined) keys.push(JSON.parse(`"${match[3]}"`) as string);
    else keys.push(match[1]!);
  }
  return keys;
}

/** Names a value for messages: `got number 3`, `got "nginx:1.27"`, `got a list of 2`, `got a mapping`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

/** Each item whose key was seen before, with the index of the first item with that key. */
export function repeats<T, K>(items: readonly T[], key: (item: T) => K | undefined): { index: number; first: number; key: K }[] {
  const firstIndex = new Map<K, number>();
  const found: { index: number; first: number; key: K }[] = [];
  items.forEach((item, index) => {
    const value = key(item);
    if (value === undefined) return;
    const first = firstIndex.get(value);
    if (first === undefined) firstIndex.set(value, index);
    else found.push({ index, first, key: value });
  });
  return found;
}

/** Values that appear more than once in a list, each once, in the order they repeat. */
export function duplicates<T>(values: readonly T[]): T[] {
  return [...new Set(repeats(values, (value) => value).map((repeat) => repeat.key))];
}

/** A mapping (a YAML mapping, a JSON object): not null, not a list. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A YAML syntax error, with the 1-based line and column where it starts. */
export interface YamlSyntaxError {
  readonly line: number;
  readonly column: number;
  /** The parser's one-line reason. */
  readonly message: string;
}

export interface ParsedYaml {
  /** The document as plain values; undefined when there are syntax errors. */
  readonly value: unknown;
  readonly syntaxErrors: readonly YamlSyntaxError[];
  /** The line of the node at a {@link joinPath} path, or of its nearest ancestor that exists. */
  lineOf(path: string): number | undefined;
}

/**
 * Parses one YAML (or JSON) document, keeping positions: syntax errors come back with line
 * and column instead of being thrown, so callers report a broken file like an invalid one.
 * Duplicate keys are errors; alias expansion is capped against billion-laughs documents (a
 * syntax error, not a crash); a second document is named as such.
 */
/** How many times one document may expand its aliases; more is treated as an alias bomb. */
export const MAX_ALIAS_COUNT = 100;

export function parseYamlWithPositions(text: string, options: { merge?: boolean } = {}): ParsedYaml {
  const lineCounter = new LineCounter();
  // `merge`: YAML 1.1 merge keys (`<<: *defaults`), which Compose files use and box specs do not need.
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, ...(options.merge ? { merge: true } : {}) });
  const syntaxErrors: YamlSyntaxError[] = document.errors.map((error) => {
    const position = lineCounter.linePos(error.pos[0]);
    const message = error.code === 'MULTIPLE_DOCS' ? 'expected one YAML document, found a second one after "---"; put each document in its own file' : error.message.split('\n')[0]!;
    return { line: position.line, column: position.col, message };
  });
  const lineOf = (path: string): number | undefined => {
    let keys = pathKeys(path);
    // A missing field has no node: point at the nearest ancestor that exists.
    while (keys.length > 0) {
      const node = document.getIn(keys, true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      keys = keys.slice(0, -1);
    }
    return undefined;
  };
  let value: unknown;
  if (syntaxErrors.length === 0) {
    try {
      value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
    } catch (error) {
      // The yaml library refuses to expand a document whose aliases multiply (billion laughs).
      if (!(error instanceof ReferenceError)) throw error;
      syntaxErrors.push({ line: 1, column: 1, message: `too many alias expansions (more than ${MAX_ALIAS_COUNT}): a document that multiplies anchors is refused` });
    }
  }
  return { value, syntaxErrors, lineOf };
}

/** Collects problems for one document; the helpers return the value when it is well-typed. */
export class ProblemList {
  readonly problems: Problem[] = [];

  add(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  get ok(): boolean {
    return this.problems.length === 0;
  }

  /**
   * Checks that `value` is a mapping with only the `allowed` keys and every `required` key.
   * Unknown fields are errors: a typo in a manifest must not silently fall back to a default.
   */
  object(value: unknown, path: string, allowed: readonly string[], required: readonly string[] = []): Record<string, unknown> | undefined {
    if (!isPlainObject(value)) {
      this.add(path, `expected a mapping, got ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.add(joinPath(path, key), `unknown field (expected one of: ${allowed.join(', ')})`);
    }
    for (const key of required) {
      if (value[key] === undefined) this.add(joinPath(path, key), 'required field is missing');
    }
    return value;
  }

  string(value: unknown, path: string, rule?: { pattern: RegExp; expected: string }): string | undefined {
    if (typeof value !== 'string' || value.length === 0) {
      this.add(path, `expected ${rule?.expected ?? 'a non-empty string'}, got ${describe(value)}`);
      return undefined;
    }
    if (rule && !rule.pattern.test(value)) {
      this.add(path, `expected ${rule.expected}, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  integer(value: unknown, path: string, range: { min?: number; max?: number } = {}): number | undefined {
    const { min, max } = range;
    const expected = `an integer${min !== undefined ? ` >= ${min}` : ''}${max !== undefined ? ` <= ${max}` : ''}`;
    if (typeof value !== 'number' || !Number.isInteger(value) || (min !== undefined && value < min) || (max !== undefined && value > max)) {
      this.add(path, `expected ${expected}, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  number(value: unknown, path: string, range: { exclusiveMin?: number; max?: number } = {}): number | undefined {
    const { exclusiveMin, max } = range;
    const expected = `a number${exclusiveMin !== undefined ? ` > ${exclusiveMin}` : ''}${max !== undefined ? ` <= ${max}` : ''}`;
    if (typeof value !== 'number' || !Number.isFinite(value) || (exclusiveMin !== undefined && value <= exclusiveMin) || (max !== undefined && value > max)) {
      this.add(path, `expected ${expected}, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (typeof value !== 'boolean') {
      this.add(path, `expected true or false, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, choices: readonly T[]): T | undefined {
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.add(path, `expected one of ${choices.map((choice) => JSON.stringify(choice)).join(', ')}, got ${describe(value)}`);
      return undefined;
    }
    return value as T;
  }

  array(value: unknown, path: string, options: { nonEmpty?: boolean } = {}): unknown[] | undefined {
    if (!Array.isArray(value)) {
      this.add(path, `expected a list, got ${describe(value)}`);
      return undefined;
    }
    if (options.nonEmpty && value.length === 0) {
      this.add(path, 'expected at least one entry, got an empty list');
      return undefined;
    }
    return value;
  }

  stringList(value: unknown, path: string, options: { nonEmpty?: boolean } = {}): string[] | undefined {
    const list = this.array(value, path, options);
    if (!list) return undefined;
    let ok = true;
    list.forEach((item, index) => {
      if (typeof item !== 'string') {
        this.add(joinPath(path, index), `expected a string, got ${describe(item)}`);
        ok = false;
      }
    });
    return ok ? (list as string[]) : undefined;
  }

  /** Reports every name that occurs more than once among `items[].name`. */
  uniqueNames(items: readonly unknown[], path: string, what: string): void {
    const names = repeats(items, (item) => (isPlainObject(item) && typeof item.name === 'string' ? item.name : undefined));
    for (const { index, first, key } of names) this.add(joinPath(joinPath(path, index), 'name'), `duplicate ${what} name "${key}" (first at ${joinPath(path, first)})`);
  }
}

/**
 * Parses one YAML document. Syntax errors become problems carrying line and column, so a
 * broken file is reported the same way as an invalid one.
 */
export function parseYaml(text: string, options: { merge?: boolean } = {}): { value: unknown; problems: Problem[] } {
  const parsed = parseYamlWithPositions(text, options);
  const problems = parsed.syntaxErrors.map((error) => ({
    path: DOCUMENT_PATH,
    message: `not valid YAML at line ${error.line}, column ${error.column}: ${error.message}`,
  }));
  return { value: parsed.value, problems };
}
