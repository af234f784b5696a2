/**
 * A small structural schema language: one description of a document's shape serves the
 * validator (every problem with its path), the JSON Schema file editors use, and the
 * field reference test that keeps docs/box-spec.md true. Kept deliberately small: the
 * rules that relate fields to each other live in plain functions, not in the schema.
 */
import { describe, isPlainObject, joinPath, type Problem } from '../../templates/lib/problems.js';

export type { Problem } from '../../templates/lib/problems.js';

export interface StringShape {
  readonly kind: 'string';
  readonly pattern?: RegExp;
  /** How the pattern reads to a person: "expected server:/export". */
  readonly expected?: string;
  readonly enum?: readonly string[];
  readonly minLength?: number;
  readonly maxLength?: number;
  /** A rule beyond the pattern (a grammar, a list of codes): the reason a value breaks it, or undefined. */
  readonly check?: (value: string) => string | undefined;
}
export interface NumberShape {
  readonly kind: 'integer' | 'number';
  readonly minimum?: number;
  readonly maximum?: number;
}
export interface BooleanShape {
  readonly kind: 'boolean';
}
export interface ConstShape {
  readonly kind: 'const';
  readonly value: string;
}
export interface ArrayShape {
  readonly kind: 'array';
  readonly items: Shape;
  readonly minItems?: number;
  readonly maxItems?: number;
  /** Items must be distinct (for arrays of strings). */
  readonly unique?: boolean;
}
export interface Field {
  readonly shape: Shape;
  readonly required?: boolean;
  readonly description: string;
}
export interface ObjectShape {
  readonly kind: 'object';
  /** Names the object in the JSON Schema's `$defs`. */
  readonly name: string;
  readonly description?: string;
  readonly fields: Readonly<Record<string, Field>>;
}
export interface RecordShape {
  readonly kind: 'record';
  readonly keyPattern?: RegExp;
  readonly keyExpected?: string;
  readonly values: Shape;
}
/** Objects told apart by one string field, such as a storage's `type`. */
export interface TaggedShape {
  readonly kind: 'tagged';
  readonly tag: string;
  readonly variants: Readonly<Record<string, ObjectShape>>;
}
/** Exactly one of several object shapes, told apart by which single key is present. */
export interface OneKeyShape {
  readonly kind: 'one-key';
  readonly name: string;
  readonly description: string;
  readonly variants: readonly ObjectShape[];
  /** The message when a plain value is given instead (for example a plaintext secret). */
  readonly scalarMessage: string;
}
/** Any JSON scalar (parameters). */
export interface ScalarShape {
  readonly kind: 'scalar';
}

export type Shape =
  | StringShape
  | NumberShape
  | BooleanShape
  | ConstShape
  | ArrayShape
  | ObjectShape
  | RecordShape
  | TaggedShape
  | OneKeyShape
  | ScalarShape;

/** Checks `value` against `shape`, appending every problem found (never stopping at the first). */
export function checkShape(value: unknown, shape: Shape, path: string, problems: Problem[]): void {
  const problem = (message: string, at = path): void => void problems.push({ path: at, message });
  switch (shape.kind) {
    case 'string': {
      if (typeof value !== 'string') return problem(`expected a string, got ${describe(value)}`);
      if (shape.enum && !shape.enum.includes(value)) {
        return problem(`expected one of ${shape.enum.join(', ')}, got ${describe(value)}`);
      }
      if (shape.minLength !== undefined && value.length < shape.minLength) {
        return problem(`expected at least ${shape.minLength} characters, got ${value.length}`);
      }
      if (shape.maxLength !== undefined && value.length > shape.maxLength) {
        return problem(`expected at most ${shape.maxLength} characters, got ${value.length}`);
      }
      if (shape.pattern && !shape.pattern.test(value)) {
        return problem(`${shape.expected ?? `expected to match ${shape.pattern}`}, got ${describe(value)}`);
      }
      if (shape.check) {
        const reason = shape.check(value);
        if (reason !== undefined) return problem(reason);
      }
      return;
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return problem(`expected ${shape.kind === 'integer' ? 'an integer' : 'a number'}, got ${describe(value)}`);
      if (shape.kind === 'integer' && !Number.isInteger(value)) return problem(`expected an integer, got ${value}`);
      if (shape.minimum !== undefined && value < shape.minimum) return problem(`expected at least ${shape.minimum}, got ${value}`);
      if (shape.maximum !== undefined && value > shape.maximum) return problem(`expected at most ${shape.maximum}, got ${value}`);
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') problem(`expected true or false, got ${describe(value)}`);
      return;
    case 'const':
      if (value !== shape.value) problem(`expected "${shape.value}", got ${describe(value)}`);
      return;
    case 'scalar':
      if (!['string', 'number', 'boolean'].includes(typeof value)) problem(`expected a string, number or boolean, got ${describe(value)}`);
      return;
    case 'array': {
      if (!Array.isArray(value)) return problem(`expected a list, got ${describe(value)}`);
      if (shape.minItems !== undefined && value.length < shape.minItems) {
        problem(`expected at least ${shape.minItems} item${shape.minItems === 1 ? '' : 's'}, got ${value.length}`);
      }
      if (shape.maxItems !== undefined && value.length > shape.maxItems) {
        problem(`expected at most ${shape.maxItems} items, got ${value.length}`);
      }
      const seen = new Set<unknown>();
      value.forEach((item, index) => {
        checkShape(item, shape.items, joinPath(path, index), problems);
        if (shape.unique) {
          if (seen.has(item)) problem(`duplicate ${describe(item)}`, joinPath(path, index));
          seen.add(item);
        }
      });
      return;
    }
    case 'record': {
      if (!isPlainObject(value)) return problem(`expected a map, got ${describe(value)}`);
      for (const [key, item] of Object.entries(value)) {
        if (shape.keyPattern && !shape.keyPattern.test(key)) {
          problem(`${shape.keyExpected ?? `key expected to match ${shape.keyPattern}`}, got "${key}"`, joinPath(path, key));
          continue;
        }
        checkShape(item, shape.values, joinPath(path, key), problems);
      }
      return;
    }
    case 'object': {
      if (!isPlainObject(value)) return problem(`expected an object, got ${describe(value)}`);
      checkFields(value, shape, path, problems);
      return;
    }
    case 'tagged': {
      if (!isPlainObject(value)) return problem(`expected an object, got ${describe(value)}`);
      const tag = value[shape.tag];
      // Own properties only: a tag such as `constructor` or `__proto__` names no variant.
      const variant = typeof tag === 'string' && Object.hasOwn(shape.variants, tag) ? shape.variants[tag] : undefined;
      if (!variant) {
        return problem(`expected one of ${Object.keys(shape.variants).join(', ')}, got ${describe(tag)}`, joinPath(path, shape.tag));
      }
      checkFields(value, variant, path, problems);
      return;
    }
    case 'one-key': {
      if (!isPlainObject(value)) return problem(`${shape.scalarMessage}, got ${typeof value === 'string' ? 'a plain string' : describe(value)}`);
      const keys = Object.keys(value);
      const variant = shape.variants.find((candidate) => keys.length === 1 && Object.hasOwn(candidate.fields, keys[0]!));
      if (!variant) {
        const names = shape.variants.map((candidate) => `{ ${Object.keys(candidate.fields).join(', ')} }`).join(' or ');
        return problem(`expected exactly one of ${names}, got { ${keys.join(', ')} }`);
      }
      checkFields(value, variant, path, problems);
      return;
    }
  }
}

function checkFields(value: Record<string, unknown>, shape: ObjectShape, path: string, problems: Problem[]): void {
  for (const [key, field] of Object.entries(shape.fields)) {
    const fieldPath = joinPath(path, key);
    if (value[key] === undefined || value[key] === null) {
      if (field.required) problems.push({ path: fieldPath, message: 'required field is missing' });
      continue;
    }
    checkShape(value[key], field.shape, fieldPath, problems);
  }
  for (const key of Object.keys(value)) {
    // Own properties only: `toString`, `constructor` or `__proto__` are not fields of any shape.
    if (!Object.hasOwn(shape.fields, key)) {
      problems.push({ path: joinPath(path, key), message: `unknown field; expected one of ${Object.keys(shape.fields).join(', ')}` });
    }
  }
}

/** The JSON Schema (draft 2020-12) for a shape; named objects become `$defs`. */
export function toJsonSchema(root: ObjectShape, meta: { id: string; title: string }): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  const convert = (shape: Shape): Record<string, unknown> => {
    switch (shape.kind) {
      case 'string':
        return {
          type: 'string',
          ...(shape.enum ? { enum: [...shape.enum] } : {}),
          ...(shape.pattern ? { pattern: shape.pattern.source } : {}),
          ...(shape.minLength !== undefined ? { minLength: shape.minLength } : {}),
          ...(shape.maxLength !== undefined ? { maxLength: shape.maxLength } : {}),
        };
      case 'integer':
      case 'number':
        return {
          type: shape.kind,
          ...(shape.minimum !== undefined ? { minimum: shape.minimum } : {}),
          ...(shape.maximum !== undefined ? { maximum: shape.maximum } : {}),
        };
      case 'boolean':
        return { type: 'boolean' };
      case 'const':
        return { const: shape.value };
      case 'scalar':
        return { type: ['string', 'number', 'boolean'] };
      case 'array':
        return {
          type: 'array',
          items: convert(shape.items),
          ...(shape.minItems !== undefined ? { minItems: shape.minItems } : {}),
          ...(shape.maxItems !== undefined ? { maxItems: shape.maxItems } : {}),
          ...(shape.unique ? { uniqueItems: true } : {}),
        };
      case 'record':
        return {
          type: 'object',
          ...(shape.keyPattern ? { propertyNames: { pattern: shape.keyPattern.source } } : {}),
          additionalProperties: convert(shape.values),
        };
      case 'object':
        return reference(shape);
      case 'tagged':
        return { oneOf: Object.values(shape.variants).map(reference) };
      case 'one-key':
        return { description: shape.description, oneOf: shape.variants.map(reference) };
    }
  };
  const reference = (shape: ObjectShape): Record<string, unknown> => {
    if (!(shape.name in defs)) {
      defs[shape.name] = {}; // placeholder against recursion
      defs[shape.name] = objectSchema(shape);
    }
    return { $ref: `#/$defs/${shape.name}` };
  };
  const objectSchema = (shape: ObjectShape): Record<string, unknown> => ({
    type: 'object',
    ...(shape.description ? { description: shape.description } : {}),
    additionalProperties: false,
    required: Object.entries(shape.fields).filter(([, field]) => field.required).map(([key]) => key),
    properties: Object.fromEntries(
      Object.entries(shape.fields).map(([key, field]) => [key, { description: field.description, ...convert(field.shape) }]),
    ),
  });
  const body = objectSchema(root);
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', $id: meta.id, title: meta.title, ...body, $defs: defs };
}

/** One row per field for the reference table in docs: path, type, required, description. */
export function fieldRows(shape: Shape, base = ''): { path: string; type: string; required: boolean; description: string }[] {
  const rows: { path: string; type: string; required: boolean; description: string }[] = [];
  const visitObject = (object: ObjectShape, prefix: string) => {
    for (const [key, field] of Object.entries(object.fields)) {
      const path = joinPath(prefix, key);
      if (rows.some((row) => row.path === path)) continue; // shared fields of tagged variants
      rows.push({ path, type: typeName(field.shape), required: field.required ?? false, description: field.description });
      rows.push(...fieldRows(field.shape, path).filter((row) => !rows.some((existing) => existing.path === row.path)));
    }
  };
  switch (shape.kind) {
    case 'object':
      visitObject(shape, base);
      break;
    case 'tagged':
      for (const variant of Object.values(shape.variants)) visitObject(variant, base);
      break;
    case 'array':
      rows.push(...fieldRows(shape.items, `${base}[]`));
      break;
    case 'record':
      rows.push(...fieldRows(shape.values, `${base}.<name>`));
      break;
    default:
      break;
  }
  return rows;
}

function typeName(shape: Shape): string {
  switch (shape.kind) {
    case 'string':
      return shape.enum ? shape.enum.map((value) => `\`${value}\``).join(' \\| ') : 'string';
    case 'integer':
    case 'number':
      return `${shape.kind}${shape.minimum !== undefined || shape.maximum !== undefined ? ` (${shape.minimum ?? ''}–${shape.maximum ?? ''})` : ''}`;
    case 'boolean':
      return 'boolean';
    case 'const':
      return `\`${shape.value}\``;
    case 'scalar':
      return 'string \\| number \\| boolean';
    case 'array':
      return `list of ${typeName(shape.items)}`;
    case 'record':
      return `map of ${typeName(shape.values)}`;
    case 'object':
      return 'object';
    case 'tagged':
      return `object by \`${shape.tag}\``;
    case 'one-key':
      return 'secret reference';
  }
}
