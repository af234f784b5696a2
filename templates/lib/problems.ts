/**
 * The catalog's imperative checks: every checker appends `{ path, message }` problems to a list
 * instead of throwing, so one run reports every mistake in a document at once
 * (`services[1].image: expected an image reference without a tag, got "nginx:1.27"`). Paths,
 * value names and YAML positions come from the plumbing shared with the box spec.
 */
import { describe, DOCUMENT_PATH, isPlainObject, joinPath, parseYamlWithPositions, type Problem } from '../../stacks/spec/problems.js';

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
    const firstIndex = new Map<string, number>();
    items.forEach((item, index) => {
      if (!isPlainObject(item) || typeof item.name !== 'string') return;
      const seen = firstIndex.get(item.name);
      if (seen === undefined) firstIndex.set(item.name, index);
      else this.add(joinPath(joinPath(path, index), 'name'), `duplicate ${what} name "${item.name}" (first at ${joinPath(path, seen)})`);
    });
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
