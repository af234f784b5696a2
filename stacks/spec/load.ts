/**
 * Reading a box spec from YAML (for people) or JSON, validating it, and saying where in the
 * file each problem is.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { Problem } from './shape.js';
import type { BoxSpec } from './types.js';
import { validateBoxSpec, type ValidateOptions } from './validate.js';

/** A spec that could not be read, parsed or validated; lists every problem. */
export class SpecError extends Error {
  readonly code = 'ESPEC';
  readonly exitCode = 1;
  readonly problems: readonly Problem[];
  readonly file: string;
  constructor(file: string, problems: readonly Problem[]) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the box spec`);
    this.name = 'SpecError';
    this.file = file;
    this.problems = problems;
  }
  /** One line per problem, `path: message`, for the command's output. */
  get details(): string[] {
    return this.problems.map((problem) => `${problem.path || '(document)'}: ${problem.message}`);
  }
}

/** Splits `spec.apps[2].volumes.library` into YAML path keys. */
function pathKeys(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g)) {
    if (match[2] !== undefined) keys.push(Number(match[2]));
    else if (match[3] !== undefined) keys.push(JSON.parse(`"${match[3]}"`) as string);
    else keys.push(match[1]!);
  }
  return keys;
}

/** Parses YAML or JSON text (JSON is YAML) into a value, or the parse problems with lines. */
export function parseSpecText(text: string): { value: unknown; problems: Problem[]; lineOf: (path: string) => number | undefined } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = document.errors.map((error) => {
    const position = lineCounter.linePos(error.pos[0]);
    return { path: position ? `(yaml) line ${position.line}, column ${position.col}` : '(yaml)', message: error.message.split('\n')[0]! };
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
  return { value: problems.length === 0 ? document.toJS({ maxAliasCount: 100 }) : undefined, problems, lineOf };
}

/** Parses and validates spec text; throws {@link SpecError} with every problem. */
export function parseBoxSpec(text: string, file: string, options: ValidateOptions = {}): BoxSpec {
  const parsed = parseSpecText(text);
  if (parsed.problems.length > 0) throw new SpecError(file, parsed.problems);
  const result = validateBoxSpec(parsed.value, options);
  if (!result.ok) {
    throw new SpecError(
      file,
      result.problems.map((problem) => {
        const line = parsed.lineOf(problem.path);
        return line === undefined ? problem : { ...problem, message: `${problem.message} (line ${line})` };
      }),
    );
  }
  return result.spec;
}

/** Reads, parses and validates a box spec file. */
export async function loadBoxSpec(file: string, options: ValidateOptions = {}): Promise<BoxSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SpecError(file, [{ path: '(file)', message: `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` }]);
  }
  return parseBoxSpec(text, file, options);
}
