/**
 * The validation plumbing shared by the box spec validator and the catalog validators: a
 * problem is `{ path, message }`, paths read like the document (`services[1].image`), values
 * are named the same way in every message, and YAML is parsed with positions so a problem can
 * say where in the file it is. Imports nothing from the project, so both sides can use it.
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
