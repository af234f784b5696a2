// The architecture's decisions live in docs/architecture.md, under stable anchors; code and docs
// cite them as `docs/architecture.md#<anchor>` (in docs/: `architecture.md#<anchor>`, and a
// citation may go on with `, #<anchor>`). Every citation in the tree must name an anchor that
// exists, links from one doc to a section of another must land, and no citation by section number
// of a document outside the repository (the product seed, DESIGN) may remain.
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const skipped = new Set(['node_modules', 'dist', '.engine', '.git', '.tap', 'coverage']);
const scanned = /\.(ts|mts|mjs|js|md|ya?ml|json|sh)$/;

/** Anchors a Markdown page offers: explicit `<a id="…">` and GitHub's heading slugs. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const match of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]!);
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]!.trim().toLowerCase().replace(/<[^>]*>/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Every `<page>.md#anchor` a text cites (with `, #more` continuations), with its line. */
export function citationsIn(text: string): { page: string; anchor: string; line: number }[] {
  const citations: { page: string; anchor: string; line: number }[] = [];
  text.split('\n').forEach((content, index) => {
    for (const match of content.matchAll(/([\w-]+)\.md#([\w-]+)((?:,\s*#[\w-]+)*)/g)) {
      const anchors = [match[2]!, ...[...match[3]!.matchAll(/#([\w-]+)/g)].map((more) => more[1]!)];
      for (const anchor of anchors) citations.push({ page: match[1]!, anchor, line: index + 1 });
    }
  });
  return citations;
}

/** In-page links of a Markdown page: `](#anchor)`. */
function inPageLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(#([\w-]+)\)/g)].map((match) => match[1]!);
}

async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (skipped.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (entry.isFile() && scanned.test(entry.name) && entry.name !== 'package-lock.json') files.push(path);
  }
  return files;
}

t.test('the anchor reader finds explicit anchors and heading slugs, not headings in code fences', async (t) => {
  const anchors = anchorsOf('# Top\n\n<a id="restore-mode"></a>\n\n### Who does what?\n\n```sh\n# not a heading\n```\n## Top\n');
  t.same([...anchors].sort(), ['restore-mode', 'top', 'top-1', 'who-does-what']);
});

t.test('the citation reader finds a citation and its continuations', async (t) => {
  t.same(citationsIn('x\n * (docs/architecture.md#customer-node, #data-placement) and [a](box-spec.md#secrets)\n'), [
    { page: 'architecture', anchor: 'customer-node', line: 2 },
    { page: 'architecture', anchor: 'data-placement', line: 2 },
    { page: 'box-spec', anchor: 'secrets', line: 2 },
  ]);
});

t.test('every cited docs anchor exists, and no citation of an outside document remains', async (t) => {
  const docs = new Map<string, Set<string>>();
  for (const name of await readdir(join(root, 'docs'))) {
    if (name.endsWith('.md')) docs.set(name.slice(0, -3), anchorsOf(await readFile(join(root, 'docs', name), 'utf8')));
  }
  const architecture = docs.get('architecture');
  t.ok(architecture && architecture.size > 20, 'docs/architecture.md has its sections');

  const broken: string[] = [];
  const outside: string[] = [];
  let architectureCitations = 0;
  for (const file of await filesUnder(root)) {
    const text = await readFile(file, 'utf8');
    const where = relative(root, file);
    for (const citation of citationsIn(text)) {
      const anchors = docs.get(citation.page);
      if (!anchors) continue; // a page outside docs/ (README.md#…, a third-party doc)
      if (citation.page === 'architecture') architectureCitations += 1;
      if (!anchors.has(citation.anchor)) broken.push(`${where}:${citation.line}: ${citation.page}.md#${citation.anchor}`);
    }
    text.split('\n').forEach((line, index) => {
      if (/\b(seed|DESIGN) \u00a7/.test(line)) outside.push(`${where}:${index + 1}: ${line.trim()}`);
    });
  }
  for (const anchor of inPageLinks(await readFile(join(root, 'docs', 'architecture.md'), 'utf8'))) {
    if (!architecture?.has(anchor)) broken.push(`docs/architecture.md: (#${anchor})`);
  }
  t.ok(architectureCitations >= 40, `the tree cites docs/architecture.md (${architectureCitations} citations)`);
  t.same(broken, [], 'no citation names a missing anchor');
  t.same(outside, [], 'no seed or DESIGN section-number citation remains');
});
