/**
 * Compose's variable interpolation, as the Compose Specification defines it: `$$` is a literal
 * `$`; `${NAME}` and `$NAME`; `${NAME:-default}` / `${NAME-default}` (default when unset, or
 * also when empty with `:`); `${NAME:+alternative}` / `${NAME+alternative}`; `${NAME:?error}` /
 * `${NAME?error}`. Defaults and alternatives may themselves hold references
 * (`${A:+https://${A}}`), so the text is scanned with brace nesting, not matched by one pattern.
 */
import { FelhomError } from '../../lib/errors.js';

export type Interpolation =
  | { readonly kind: 'literal'; readonly text: string }
  | {
      readonly kind: 'variable';
      readonly name: string;
      /** `-`, `:-`, `+`, `:+`, `?`, `:?`; absent for a plain `${NAME}` or `$NAME`. */
      readonly operator?: '-' | ':-' | '+' | ':+' | '?' | ':?';
      /** The default, alternative or error text, itself parsed. */
      readonly argument?: readonly Interpolation[];
      /** The source text of the argument (for error messages). */
      readonly argumentText?: string;
    };

export class InterpolationError extends FelhomError {
  constructor(message: string) {
    super('EINTERPOLATION', 'generic', message, { fault: 'input' });
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Parses `text` into literals and variable references; throws {@link InterpolationError} on an unclosed `${`. */
export function parseInterpolation(text: string): Interpolation[] {
  const parts: Interpolation[] = [];
  let literal = '';
  const flush = () => {
    if (literal !== '') parts.push({ kind: 'literal', text: literal });
    literal = '';
  };
  let index = 0;
  while (index < text.length) {
    const char = text[index]!;
    if (char !== '$') {
      literal += char;
      index += 1;
      continue;
    }
    const next = text[index + 1];
    if (next === '$') {
      literal += '$';
      index += 2;
      continue;
    }
    if (next === '{') {
      const close = matchingBrace(text, index + 1);
      if (close === -1) throw new InterpolationError(`unclosed "\${" in ${JSON.stringify(text)}`);
      const inner = text.slice(index + 2, close);
      const name = NAME.exec(inner)?.[0];
      if (!name) throw new InterpolationError(`expected a variable name after "\${" in ${JSON.stringify(text)}`);
      const rest = inner.slice(name.length);
      flush();
      if (rest === '') parts.push({ kind: 'variable', name });
      else {
        const operator = /^(:?[-+?])/.exec(rest)?.[1] as '-' | ':-' | '+' | ':+' | '?' | ':?' | undefined;
        if (!operator) throw new InterpolationError(`expected :-, -, :+, +, :? or ? after \${${name} in ${JSON.stringify(text)}`);
        const argumentText = rest.slice(operator.length);
        parts.push({ kind: 'variable', name, operator, argument: parseInterpolation(argumentText), argumentText });
      }
      index = close + 1;
      continue;
    }
    const bare = NAME.exec(text.slice(index + 1))?.[0];
    if (bare) {
      flush();
      parts.push({ kind: 'variable', name: bare });
      index += 1 + bare.length;
      continue;
    }
    literal += '$';
    index += 1;
  }
  flush();
  return parts;
}

/** The index of the `}` closing the `{` at `open`, counting nested `${`; -1 when none. */
function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let index = open; index < text.length; index++) {
    if (text[index] === '$' && text[index + 1] === '$') {
      index += 1;
      continue;
    }
    if (text[index] === '{') depth += 1;
    else if (text[index] === '}') {
      depth -= 1;
      if (depth === 0) return index;
    }
  }
  return -1;
}

/** How a variable is looked up: its value, or undefined when unset. */
export type VariableLookup = (name: string) => string | undefined;

/**
 * Interpolates fully, as `docker compose config` does. `onMissing` is told of each variable that
 * is unset with no default (`required` for `:?`/`?`); it returns what to put in its place.
 */
export function interpolate(text: string, lookup: VariableLookup, onMissing: (name: string, required: string | undefined) => string = () => ''): string {
  const render = (parts: readonly Interpolation[]): string =>
    parts
      .map((part) => {
        if (part.kind === 'literal') return part.text;
        const value = lookup(part.name);
        const colon = part.operator?.startsWith(':') ?? false;
        const isSet = value !== undefined && (value !== '' || !colon);
        switch (part.operator?.replace(':', '')) {
          case '-':
            return isSet ? value! : render(part.argument ?? []);
          case '+':
            return isSet ? render(part.argument ?? []) : '';
          case '?':
            return isSet ? value! : onMissing(part.name, part.argumentText || 'no value given');
          default:
            return value !== undefined ? value : onMissing(part.name, undefined);
        }
      })
      .join('');
  return render(parseInterpolation(text));
}

/** Every variable name `text` refers to, in order, once each (nested arguments included). */
export function referencedVariables(text: string): string[] {
  const names: string[] = [];
  const visit = (parts: readonly Interpolation[]) => {
    for (const part of parts) {
      if (part.kind !== 'variable') continue;
      if (!names.includes(part.name)) names.push(part.name);
      visit(part.argument ?? []);
    }
  };
  visit(parseInterpolation(text));
  return names;
}
