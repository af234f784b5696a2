/**
 * Reading a box spec from YAML (for people) or JSON, validating it, and saying where in the
 * file each problem is.
 */
import { readFile } from 'node:fs/promises';
import { formatProblem, parseYamlWithPositions, type Problem } from '../../templates/lib/problems.js';
import type { BoxSpec } from './types.js';
import { validateBoxSpec, type ValidateOptions } from './validate.js';
import { FelhomError } from '../../lib/errors.js';

/** A spec that could not be read, parsed or validated; lists every problem. */
export class SpecError extends FelhomError {
  readonly problems: readonly Problem[];
  readonly file: string;
  /**
   * `unreadable`: the file could not be read at all (the environment's fault, like every other
   * unreadable input). `details` holds one line per problem, `path: message`.
   */
  constructor(file: string, problems: readonly Problem[], options: { unreadable?: boolean } = {}) {
    super(
      'ESPEC',
      'generic',
      options.unreadable
        ? `${file}: cannot read the box spec (${problems[0]?.message.replace(/^cannot read: /, '') ?? 'unreadable'})`
        : `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the box spec`,
      { fault: options.unreadable ? 'environment' : 'input', details: problems.map(formatProblem) },
    );
    this.file = file;
    this.problems = problems;
  }
}

/** Parses YAML or JSON text (JSON is YAML) into a value, or the parse problems with lines. */
export function parseSpecText(text: string): { value: unknown; problems: Problem[]; lineOf: (path: string) => number | undefined } {
  const parsed = parseYamlWithPositions(text);
  const problems = parsed.syntaxErrors.map((error) => ({ path: `(yaml) line ${error.line}, column ${error.column}`, message: error.message }));
  return { value: parsed.value, problems, lineOf: parsed.lineOf };
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
    throw new SpecError(file, [{ path: '(file)', message: `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` }], { unreadable: true });
  }
  return parseBoxSpec(text, file, options);
}
