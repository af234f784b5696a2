/**
 * Validation as pure functions: every checker appends `{ path, message }` problems to a list
 * instead of throwing, so one run reports every mistake in a document at once
 * (`services[1].image: expected an image reference without a tag, got "nginx:1.27"`).
 */
import { LineCounter, parseDocument } from 'yaml';

export interface Problem {
  /** Where the problem is: `services[1].image`; `(document)` for the document as a whole. */
  readonly path: string;
  readonly message: string;
}

export const DOCUMENT_PATH = '(document)';

export function formatProblem(problem: Problem): string {
  return `${problem.path}: ${problem.message}`;
}

/** `join('services', 1)` → `services[1]`; `join('services[1]', 'image')` → `services[1].image`. */
export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const safeKey = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
  if (path === '' || path === DOCUMENT_PATH) return safeKey;
  return /^[A-Za-z_]/.test(safeKey) ? `${path}.${safeKey}` : `${path}[${safeKey}]`;
}

/** Names a value's kind for messages: `got a number (3)`, `got "nginx:1.27"`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
    if (!isRecord(value)) {
      this.add(path, `expected a mapping, got ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.add(join(path, key), `unknown field (expected one of: ${allowed.join(', ')})`);
    }
    for (const key of required) {
      if (value[key] === undefined) this.add(join(path, key), 'required field is missing');
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
        this.add(join(path, index), `expected a string, got ${describe(item)}`);
        ok = false;
      }
    });
    return ok ? (list as string[]) : undefined;
  }

  /** Reports every name that occurs more than once among `items[].name`. */
  uniqueNames(items: readonly unknown[], path: string, what: string): void {
    const firstIndex = new Map<string, number>();
    items.forEach((item, index) => {
      if (!isRecord(item) || typeof item.name !== 'string') return;
      const seen = firstIndex.get(item.name);
      if (seen === undefined) firstIndex.set(item.name, index);
      else this.add(join(join(path, index), 'name'), `duplicate ${what} name "${item.name}" (first at ${join(path, seen)})`);
    });
  }
}

/**
 * Parses one YAML document. Syntax errors become problems carrying line and column, so a
 * broken file is reported the same way as an invalid one.
 */
export function parseYaml(text: string): { value: unknown; problems: Problem[] } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  const problems: Problem[] = document.errors.map((error) => {
    const position = lineCounter.linePos(error.pos[0]);
    const where = ` at line ${position.line}, column ${position.col}`;
    return { path: DOCUMENT_PATH, message: `not valid YAML${where}: ${error.message.split('\n')[0]}` };
  });
  if (problems.length > 0) return { value: undefined, problems };
  return { value: document.toJS({ maxAliasCount: 100 }) as unknown, problems };
}
