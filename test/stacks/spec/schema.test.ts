import t from 'tap';
import { readFileSync } from 'node:fs';
import { boxSpecJsonSchemaText, withFieldTable } from '../../../stacks/spec/json-schema.js';
import { fieldRows } from '../../../stacks/spec/shape.js';
import { boxSpecShape } from '../../../stacks/spec/schema.js';

const root = new URL('../../../', import.meta.url);

t.test('the committed JSON Schema is the one the validator\'s shape generates', async (t) => {
  const committed = readFileSync(new URL('stacks/spec/box-spec.schema.json', root), 'utf8');
  t.equal(committed, boxSpecJsonSchemaText(), 'run npm run schema to regenerate');
});

t.test('docs/box-spec.md documents every field of the schema', async (t) => {
  const docs = readFileSync(new URL('docs/box-spec.md', root), 'utf8');
  t.equal(docs, withFieldTable(docs), 'run npm run schema to regenerate the field table');
  for (const row of fieldRows(boxSpecShape)) t.ok(docs.includes(`| \`${row.path}\` |`), `${row.path} is documented`);
});

t.test('the JSON Schema forbids unknown fields everywhere, as the validator does', async (t) => {
  const schema = JSON.parse(boxSpecJsonSchemaText()) as { $defs: Record<string, { additionalProperties?: boolean }> };
  for (const [name, definition] of Object.entries(schema.$defs)) t.equal(definition.additionalProperties, false, name);
});
