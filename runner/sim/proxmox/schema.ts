/**
 * PVE's published API schema (`api-viewer/apidata.js`, the file every PVE host carries at
 * /usr/share/pve-docs/api-viewer/apidata.js), read at start, and the parameter check PVE's
 * API server runs on every request (pve-common's PVE::JSONSchema `validate`): unknown
 * parameters, wrong types, formats, ranges, patterns and enumerations, and missing required
 * parameters, each reported under its own name with PVE's own wording.
 *
 * Test and demo tool (docs/pve-simulator.md), not a production component.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checkFormat, FormatError } from './formats.js';
import { FelhomError } from '../../../lib/errors.js';

/** The PVE host's own copy of the schema, the simulator's default `--schema`. */
export const PVE_HOST_SCHEMA = '/usr/share/pve-docs/api-viewer/apidata.js';

/**
 * The schema for tests, the benchmark and the demo: $FELHOM_PVE_SCHEMA, else
 * `shared/pve-api/apidata.js` in the repository's parent folder or one above it (CI runs a fresh
 * clone with shared/ beside it), else the PVE host's own copy; undefined when none exists.
 */
export function findSharedSchema(projectRoot: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FELHOM_PVE_SCHEMA) return env.FELHOM_PVE_SCHEMA;
  for (let dir = dirname(projectRoot); ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'pve-api', 'apidata.js');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  return existsSync(PVE_HOST_SCHEMA) ? PVE_HOST_SCHEMA : undefined;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One parameter (or sub-key of a property string) as apidata.js describes it. */
export interface ParameterSchema {
  readonly type?: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'null';
  readonly optional?: 0 | 1;
  readonly format?: string | Readonly<Record<string, ParameterSchema>>;
  readonly pattern?: string;
  readonly enum?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly requires?: string;
  readonly default_key?: 0 | 1;
  readonly alias?: string;
  readonly items?: ParameterSchema;
  readonly default?: unknown;
}

export interface ApiMethodSchema {
  readonly method: HttpMethod;
  readonly name: string;
  readonly allowtoken?: 0 | 1;
  readonly protected?: 0 | 1;
  readonly parameters?: { readonly additionalProperties?: 0 | 1; readonly properties?: Readonly<Record<string, ParameterSchema>> };
  readonly returns?: unknown;
}

interface ApiNode {
  readonly path: string;
  readonly text: string;
  readonly info?: Partial<Record<HttpMethod, ApiMethodSchema>>;
  readonly children?: readonly ApiNode[];
}

/** The schema file is missing or is not apidata.js. */
export class SchemaLoadError extends FelhomError {
  /** A failure outside the command line: the environment's fault. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ESIM_SCHEMA', 'generic', message, options);
  }
}

/** A request path resolved against the schema. */
export interface RouteMatch {
  /** The schema's path template, e.g. `/nodes/{node}/lxc/{vmid}/config`. */
  readonly template: string;
  /** Values of the `{…}` segments, by name. */
  readonly pathParameters: Readonly<Record<string, string>>;
  /** The method's schema, or undefined when the path exists without this method. */
  readonly method: ApiMethodSchema | undefined;
}

interface TrieNode {
  readonly literal: Map<string, TrieNode>;
  variable?: { readonly name: string; readonly node: TrieNode };
  api?: ApiNode;
}

function trieNode(): TrieNode {
  return { literal: new Map() };
}

/** The loaded schema: path lookup and parameter checks. */
export class PveApiSchema {
  readonly #root = trieNode();
  /** How many path + method pairs the schema defines. */
  readonly methodCount: number;

  constructor(tree: readonly ApiNode[]) {
    let count = 0;
    const visit = (nodes: readonly ApiNode[]): void => {
      for (const node of nodes) {
        let at = this.#root;
        for (const segment of node.path.split('/').filter(Boolean)) {
          const variable = /^\{(.+)\}$/.exec(segment);
          if (variable) {
            at.variable ??= { name: variable[1]!, node: trieNode() };
            at = at.variable.node;
          } else {
            let next = at.literal.get(segment);
            if (!next) at.literal.set(segment, (next = trieNode()));
            at = next;
          }
        }
        at.api = node;
        count += Object.keys(node.info ?? {}).length;
        if (node.children) visit(node.children);
      }
    };
    visit(tree);
    this.methodCount = count;
  }

  /** Reads apidata.js (a `const apiSchema = [...]` script) from `file`. */
  static async load(file: string): Promise<PveApiSchema> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new SchemaLoadError(`cannot read PVE's API schema ${file}: ${(cause as Error).message} (a PVE host has it at ${PVE_HOST_SCHEMA}; pass --schema)`, { cause });
    }
    return PveApiSchema.parse(text, file);
  }

  static parse(text: string, file = 'apidata.js'): PveApiSchema {
    const start = text.indexOf('[');
    const end = text.lastIndexOf(']');
    if (!/const\s+apiSchema\s*=/.test(text) || start < 0 || end < start) {
      throw new SchemaLoadError(`${file} is not PVE's api-viewer/apidata.js: expected "const apiSchema = [ … ]"`);
    }
    let tree: unknown;
    try {
      tree = JSON.parse(text.slice(start, end + 1));
    } catch (cause) {
      throw new SchemaLoadError(`${file}: the apiSchema array is not JSON: ${(cause as Error).message}`, { cause });
    }
    if (!Array.isArray(tree) || tree.length === 0) throw new SchemaLoadError(`${file}: the apiSchema array is empty`);
    return new PveApiSchema(tree as ApiNode[]);
  }

  /**
   * Resolves a path below /api2/json. Literal segments win over `{…}` ones, as in PVE's
   * router. Undefined when no schema path matches.
   */
  match(method: string, path: string): RouteMatch | undefined {
    let at = this.#root;
    const pathParameters: Record<string, string> = {};
    for (const segment of path.split('/').filter(Boolean)) {
      const literal = at.literal.get(segment);
      if (literal) at = literal;
      else if (at.variable) {
        pathParameters[at.variable.name] = decodeURIComponent(segment);
        at = at.variable.node;
      } else return undefined;
    }
    if (!at.api) return undefined;
    return { template: at.api.path, pathParameters, method: at.api.info?.[method as HttpMethod] };
  }
}

/** A request's parameters as PVE sees them: scalars as strings, repeated keys as arrays. */
export type RequestParameters = Record<string, string | string[]>;

/** Per-parameter errors, keyed by parameter name, in PVE's words. */
export type ParameterErrors = Record<string, string>;

const NOT_DEFINED = 'property is not defined in schema and the schema does not allow additional properties';
const MISSING = 'property is missing and it is not optional';

/** The schema entry for `name`, including the `mp[n]`-style families (`mp0`, `net1`). */
export function parameterSchema(properties: Readonly<Record<string, ParameterSchema>>, name: string): ParameterSchema | undefined {
  const exact = properties[name];
  if (exact) return exact;
  const family = /^([a-z][a-z_-]*?)(\d+)$/i.exec(name);
  return family ? properties[`${family[1]}[n]`] : undefined;
}

/**
 * PVE::JSONSchema's check of a method's parameters: every given parameter must be defined
 * (unless the method allows additional properties) and pass its type, pattern, length, range,
 * enumeration and format; every non-optional one must be present.
 */
export function validateParameters(method: ApiMethodSchema, parameters: RequestParameters): ParameterErrors {
  const errors: ParameterErrors = {};
  const properties = method.parameters?.properties ?? {};
  const additional = method.parameters?.additionalProperties === 1;
  for (const [name, value] of Object.entries(parameters)) {
    const schema = parameterSchema(properties, name);
    if (!schema) {
      if (!additional) errors[name] = NOT_DEFINED;
      continue;
    }
    checkValue(name, schema, value, errors);
  }
  for (const [name, schema] of Object.entries(properties)) {
    if (name.endsWith('[n]')) continue;
    if (!schema.optional && parameters[name] === undefined) errors[name] = MISSING;
    if (schema.requires && parameters[name] !== undefined && parameters[schema.requires] === undefined) {
      errors[schema.requires] ??= `missing property - '${name}' requires this property`;
    }
  }
  return errors;
}

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.\d*|\d*\.\d+|\d+)([eE][+-]?\d+)?$/;

function checkType(path: string, type: ParameterSchema['type'], value: string | string[], errors: ParameterErrors): boolean {
  if (type === 'array') return true;
  if (Array.isArray(value)) {
    errors[path] = `type check ('${type ?? 'string'}') failed - got ARRAY`;
    return false;
  }
  const fail = (): false => {
    errors[path] = `type check ('${type}') failed - got '${value}'`;
    return false;
  };
  switch (type) {
    case 'integer':
      return INTEGER.test(value) || fail();
    case 'number':
      return NUMBER.test(value) || fail();
    case 'boolean':
      // PVE's check_type accepts exactly 1 and 0 for a boolean (JSON true/false arrive as 1/0).
      return value === '1' || value === '0' || fail();
    default:
      return true;
  }
}

/** check_prop: one value against one schema entry; errors land under `path`. */
function checkValue(path: string, schema: ParameterSchema, value: string | string[], errors: ParameterErrors): void {
  if (!checkType(path, schema.type, value, errors)) return;
  if (Array.isArray(value) || schema.type === 'array') {
    const items = Array.isArray(value) ? value : [value];
    if (schema.items) items.forEach((item) => checkValue(path, schema.items!, item, errors));
    return;
  }
  if (schema.pattern !== undefined && !perlPattern(schema.pattern).test(value)) {
    errors[path] = 'value does not match the regex pattern';
    return;
  }
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    errors[path] = `value may only be ${schema.maxLength} characters long`;
    return;
  }
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    errors[path] = `value must be at least ${schema.minLength} characters long`;
    return;
  }
  if (NUMBER.test(value)) {
    if (schema.maximum !== undefined && Number(value) > schema.maximum) {
      errors[path] = `value must have a maximum value of ${schema.maximum}`;
      return;
    }
    if (schema.minimum !== undefined && Number(value) < schema.minimum) {
      errors[path] = `value must have a minimum value of ${schema.minimum}`;
      return;
    }
  }
  if (schema.enum && !schema.enum.includes(value)) {
    errors[path] = `value '${value}' does not have a value in the enumeration '${schema.enum.join("', '")}'`;
    return;
  }
  if (schema.format === undefined) return;
  try {
    if (typeof schema.format === 'string') checkFormat(schema.format, value);
    else checkPropertyString(path, schema.format, value, errors);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    errors[path] = `invalid format - ${error.message}\n`;
  }
}

/**
 * PVE's parse_property_string then check_object: `key=value,…` with an optional default key.
 * Throws FormatError for a malformed string; records each sub-key's problem as `<path>.<key>`.
 */
export function checkPropertyString(path: string, format: Readonly<Record<string, ParameterSchema>>, value: string, errors: ParameterErrors): Record<string, string> {
  const parsed = parsePropertyString(format, value);
  const nested: ParameterErrors = {};
  for (const [key, sub] of Object.entries(parsed)) checkValue(`${path}.${key}`, format[key]!, sub, nested);
  for (const [key, schema] of Object.entries(format)) {
    if (!schema.optional && !schema.alias && parsed[key] === undefined) nested[`${path}.${key}`] = MISSING;
  }
  if (Object.keys(nested).length > 0) {
    Object.assign(errors, nested);
    throw new FormatError('format error');
  }
  return parsed;
}

/** Splits a property string into its keys (no checks beyond the syntax). */
export function parsePropertyString(format: Readonly<Record<string, ParameterSchema>>, value: string): Record<string, string> {
  const parsed: Record<string, string> = {};
  const defaultKey = Object.entries(format).find(([, schema]) => schema.default_key)?.[0];
  for (const part of value.split(',')) {
    if (/^\s*$/.test(part)) continue;
    const pair = /^([^=]+)=(.+)$/.exec(part);
    if (pair) {
      let key = pair[1]!;
      const alias = format[key]?.alias;
      if (alias) key = alias;
      if (parsed[key] !== undefined) throw new FormatError(`duplicate key in comma-separated list property: ${key}`);
      if (!format[key]) throw new FormatError(`invalid key in comma-separated list property: ${key}`);
      parsed[key] = format[key].type === 'boolean' ? normalBoolean(pair[2]!) : pair[2]!;
    } else if (!part.includes('=')) {
      if (!defaultKey) throw new FormatError('value without key, but schema does not define a default key');
      if (parsed[defaultKey] !== undefined) throw new FormatError(`duplicate key in comma-separated list property: ${defaultKey}`);
      parsed[defaultKey] = part;
    } else throw new FormatError('missing key in comma-separated list property');
  }
  return parsed;
}

/** parse_boolean inside a property string: 1/on/yes/true and 0/off/no/false. */
function normalBoolean(value: string): string {
  if (/^(1|on|yes|true)$/i.test(value)) return '1';
  if (/^(0|off|no|false)$/i.test(value)) return '0';
  return value;
}

const patternCache = new Map<string, RegExp>();

/** A Perl pattern from apidata.js (`(?^:…)` groups, anchored whole-value match) as a RegExp. */
export function perlPattern(pattern: string): RegExp {
  let regex = patternCache.get(pattern);
  if (!regex) {
    const source = pattern.replaceAll('(?^:', '(?:').replaceAll('(?^i:', '(?:').replace(/\\x\{([0-9a-f]+)\}/gi, '\\u{$1}');
    try {
      regex = new RegExp(`^(?:${source})$`, 'u');
    } catch {
      regex = new RegExp(`^(?:${source})$`);
    }
    patternCache.set(pattern, regex);
  }
  return regex;
}

/**
 * The answer typed as PVE's JSON writer types it, by the method's `returns` schema: a stored
 * value the schema calls `integer` or `number` goes out as a JSON number, a `boolean` as 0 or 1
 * (PVE's own encoding), so a client that decodes into typed fields (the proxmoxve provider's Go
 * structs) reads what it would read from a PVE host. Anything the schema does not type, and any
 * value that is not a clean number, is left as it is.
 */
export function typedReturn(returns: unknown, data: unknown): unknown {
  const schema = returns as { type?: string; properties?: Record<string, ParameterSchema>; items?: unknown } | undefined;
  if (!schema || data === null || data === undefined) return data;
  if (Array.isArray(data)) return schema.type === 'array' && schema.items ? data.map((item) => typedReturn(schema.items, item)) : data;
  if (typeof data === 'object' && schema.properties) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data as Record<string, unknown>)) out[key] = typedValue(schema.properties[key], value);
    return out;
  }
  return typedValue(schema as ParameterSchema, data);
}

function typedValue(schema: ParameterSchema | undefined, value: unknown): unknown {
  if (!schema || typeof value !== 'string') return value;
  if ((schema.type === 'integer' && /^-?\d+$/.test(value)) || (schema.type === 'number' && /^-?\d+(\.\d+)?$/.test(value))) return Number(value);
  if (schema.type === 'boolean') {
    const normal = normalBoolean(value);
    return normal === '1' ? 1 : normal === '0' ? 0 : value;
  }
  return value;
}
