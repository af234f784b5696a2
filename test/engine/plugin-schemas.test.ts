// Every resource type and input property the tier programs create, over both example boxes
// (run under the mock runtime, as `felhom plan` runs them), must be known to the schema of the
// plugin that engine/plugins.json pins: an SDK newer than its plugin (docker, proxmoxve) must
// not use a type or field the older plugin lacks. The schema is the plugin's own
// (`pulumi package get-schema <binary>`). A pinned plugin that is not installed FAILS this test
// with its name and how to install it: never skipped.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ENGINE_PINS } from '../../engine/plugins.js';
import { locateEngine } from '../../runner/engine/locate.js';
import { planBox } from '../../stacks/plan.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { loadBoxSpec } from '../../stacks/spec/load.js';
import { TIERS } from '../../stacks/spec/types.js';
import { installedPluginFolder, pluginCaches, projectRoot } from '../helpers/engine-install.js';

const run = promisify(execFile);

interface SchemaProperty { readonly $ref?: string; readonly type?: string; readonly items?: SchemaProperty; readonly additionalProperties?: SchemaProperty }
interface Schema {
  readonly version?: string;
  readonly resources: Record<string, { inputProperties?: Record<string, SchemaProperty> }>;
  readonly types: Record<string, { properties?: Record<string, SchemaProperty> }>;
  readonly provider?: { inputProperties?: Record<string, SchemaProperty> };
}

/** What the programs use: per plugin, per resource type, one inputs object per resource. */
async function usedByTheTierPrograms(): Promise<Map<string, Map<string, Record<string, unknown>[]>>> {
  const catalog = catalogLookup();
  const used = new Map<string, Map<string, Record<string, unknown>[]>>();
  for (const file of ['home-box.yaml', 'company-box.yaml']) {
    const spec = await loadBoxSpec(join(projectRoot, 'examples', file), { catalog });
    const plan = await planBox(spec, { tiers: TIERS, catalog });
    for (const tier of TIERS) {
      for (const record of plan.tiers[tier]?.records ?? []) {
        if (!record.custom) continue;
        const pkg = record.type.startsWith('pulumi:providers:') ? record.type.slice('pulumi:providers:'.length) : record.type.split(':')[0]!;
        const byType = used.get(pkg) ?? new Map<string, Record<string, unknown>[]>();
        used.set(pkg, byType);
        byType.set(record.type, [...(byType.get(record.type) ?? []), record.inputs]);
      }
    }
  }
  return used;
}

/** The property names of `value` the schema does not know, as dotted paths. */
function unknownProperties(schema: Schema, properties: Record<string, SchemaProperty> | undefined, value: unknown, path: string): string[] {
  if (!properties || value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  const problems: string[] = [];
  for (const [key, nested] of Object.entries(value as Record<string, unknown>)) {
    const property = properties[key];
    if (!property) {
      problems.push(`${path}${key}`);
      continue;
    }
    problems.push(...unknownNested(schema, property, nested, `${path}${key}`));
  }
  return problems;
}

function unknownNested(schema: Schema, property: SchemaProperty, value: unknown, path: string): string[] {
  if (Array.isArray(value) && property.items) return value.flatMap((item, index) => unknownNested(schema, property.items!, item, `${path}[${index}]`));
  const ref = property.$ref?.startsWith('#/types/') ? decodeURIComponent(property.$ref.slice('#/types/'.length)) : undefined;
  if (ref && schema.types[ref]) return unknownProperties(schema, schema.types[ref]!.properties, value, `${path}.`);
  return [];
}

const used = await usedByTheTierPrograms();
const engine = await locateEngine({ projectRoot });

/** Checked here: every pinned resource plugin but cloudflare, whose check is in edge-tier.test.ts. */
const EDGE_ONLY = 'cloudflare';
const checked = ENGINE_PINS.plugins.filter((candidate) => candidate.kind === 'resource' && (process.env.FELHOM_SCHEMA_PLUGINS ? process.env.FELHOM_SCHEMA_PLUGINS.split(',').includes(candidate.name) : candidate.name !== EDGE_ONLY));

for (const plugin of checked) {
  t.test(`${plugin.name} ${plugin.version} knows every type and property the tier programs use`, async (t) => {
    const byType = used.get(plugin.name);
    t.ok(byType && byType.size > 0, `the tier programs use ${plugin.name}`);
    if (!byType) return;
    const folder = await installedPluginFolder(plugin);
    if (!folder) {
      t.fail(`plugin ${plugin.name} ${plugin.version} is not installed in ${pluginCaches().join(' or ')}: run \`npm run engine:install\` ` +
        '(FELHOM_ENGINE_MIRROR names a mirror that has it; docs/engine.md)');
      return;
    }
    const { stdout } = await run(engine.pulumiPath, ['package', 'get-schema', join(folder, `pulumi-resource-${plugin.name}`)], {
      env: { ...process.env, ...engine.env }, maxBuffer: 512 * 1024 * 1024, timeout: 600_000,
    });
    const schema = JSON.parse(stdout) as Schema;
    t.equal(schema.version, plugin.version, 'the schema is the pinned version\'s');
    for (const [type, resources] of byType) {
      if (type.startsWith('pulumi:providers:')) {
        // `version` is the resource option, not provider configuration.
        const problems = resources.flatMap((inputs) => unknownProperties(schema, { ...schema.provider?.inputProperties, version: {} }, inputs, ''));
        t.same([...new Set(problems)], [], `${type}: every configuration key is the provider's`);
        continue;
      }
      const resource = schema.resources[type];
      t.ok(resource, `${type} is a resource of ${plugin.name} ${plugin.version}`);
      if (!resource) continue;
      const problems = resources.flatMap((inputs) => unknownProperties(schema, resource.inputProperties, inputs, ''));
      t.same([...new Set(problems)], [], `${type}: every input property is in the schema`);
    }
  });
}
