/**
 * A manifest's environment templates: `${param.x}`, `${secret.x}`, `${service.x}`,
 * `${app.hostname}`, and Compose's escape `$$` (one literal `$`, so `$${` writes a literal `${`).
 * One grammar for the catalog validator, which refuses a value it cannot read, and for the
 * AppStack component, which resolves the references (docs/catalog.md).
 */

export type TemplateRef = { readonly kind: 'param' | 'secret' | 'service'; readonly name: string } | { readonly kind: 'app'; readonly name: 'hostname' };
export type TemplatePart = { readonly literal: string } | { readonly ref: TemplateRef };

/** A reference, or the escape `$$`. */
const TEMPLATE_TOKEN = /\$\$|\$\{([a-z]+)\.([A-Za-z0-9_-]+)\}/g;

/**
 * Splits an environment value into literals and references, or says why it cannot: a `${...}`
 * it does not understand is refused, so a typo never reaches a container as literal text.
 */
export function templateParts(value: string): { readonly parts: TemplatePart[] } | { readonly problem: string } {
  const parts: TemplatePart[] = [];
  const addLiteral = (text: string): void => {
    if (text === '') return;
    const previous = parts[parts.length - 1];
    if (previous && 'literal' in previous) parts[parts.length - 1] = { literal: previous.literal + text };
    else parts.push({ literal: text });
  };
  let last = 0;
  for (const match of value.matchAll(TEMPLATE_TOKEN)) {
    const [whole, kind, name] = match as unknown as [string, string | undefined, string | undefined];
    // Checked on the source text between tokens: an escaped `$${` must not count as malformed.
    const source = value.slice(last, match.index);
    if (source.includes('${')) return { problem: malformed(value) };
    addLiteral(source);
    last = match.index + whole.length;
    if (whole === '$$') addLiteral('$');
    else if (kind === 'param' || kind === 'secret' || kind === 'service') parts.push({ ref: { kind, name: name! } });
    else if (kind === 'app' && name === 'hostname') parts.push({ ref: { kind: 'app', name: 'hostname' } });
    else return { problem: `unknown reference \${${kind}.${name}}: expected \${param.<name>}, \${secret.<name>}, \${service.<name>} or \${app.hostname}` };
  }
  const rest = value.slice(last);
  if (rest.includes('${')) return { problem: malformed(value) };
  addLiteral(rest);
  return { parts };
}

function malformed(value: string): string {
  return `malformed reference in ${JSON.stringify(value)}: expected \${<kind>.<name>}, or $\${ for a literal \${`;
}

/** Joins parsed parts, resolving each reference with `lookup`. */
export function renderTemplate(parts: readonly TemplatePart[], lookup: (ref: TemplateRef) => string): string {
  return parts.map((part) => ('literal' in part ? part.literal : lookup(part.ref))).join('');
}
