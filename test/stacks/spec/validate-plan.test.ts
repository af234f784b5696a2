/**
 * One truth for validity: every fixture here is a realistic mistake (or a tricky valid spec),
 * run through `validate` and through `plan` without validation. Whatever `plan` refuses,
 * `validate` refuses first, with the path of the field to fix; a spec `validate` accepts plans.
 */
import t from 'tap';
import { ComponentArgsError } from '../../../components/validation.js';
import { planBox } from '../../../stacks/plan.js';
import { catalogLookup } from '../../../stacks/spec/catalog.js';
import { parseBoxSpec, SpecError } from '../../../stacks/spec/load.js';
import type { BoxSpec } from '../../../stacks/spec/types.js';
import { validateBoxSpec } from '../../../stacks/spec/validate.js';
import { homeBox, type DraftSpec } from '../../helpers/box-spec.js';
import { describeFailure } from '../../../cli/errors.js';

const catalog = catalogLookup();

interface Fixture {
  readonly what: string;
  readonly change: (spec: DraftSpec) => void;
  /** The path validate must name; absent for a valid spec. */
  readonly path?: string;
  readonly message?: RegExp;
}

const fixtures: readonly Fixture[] = [
  // Valid, if unusual: PVE's grammar beyond "*-*-* 02:30".
  { what: 'weekday ranges and a bare minute repetition', change: (s) => { s.spec.backup.jobs[0]!.schedule = 'mon..fri 02:00'; s.spec.backup.jobs[1]!.schedule = '*/30'; } },
  { what: 'a special word and a time list', change: (s) => { s.spec.backup.jobs[0]!.schedule = 'daily'; s.spec.backup.jobs[1]!.schedule = 'sat 4:15,16:15'; } },
  { what: 'Kosovo in the allow-list', change: (s) => s.spec.edge.geo!.countries.push('XK') },
  // Schedules Proxmox refuses.
  { what: 'a cron line', change: (s) => (s.spec.backup.jobs[0]!.schedule = '30 2 * * *'), path: 'spec.backup.jobs[0].schedule', message: /cron line/ },
  { what: 'prose', change: (s) => (s.spec.backup.jobs[0]!.schedule = 'every night'), path: 'spec.backup.jobs[0].schedule', message: /calendar event/ },
  { what: 'hour 25', change: (s) => (s.spec.backup.jobs[1]!.schedule = '*-*-* 25:61'), path: 'spec.backup.jobs[1].schedule', message: /hour 25 is outside 0\.\.23/ },
  // Countries Cloudflare never reports.
  { what: 'UK', change: (s) => s.spec.edge.geo!.countries.push('UK'), path: 'spec.edge.geo.countries[3]', message: /United Kingdom is GB/ },
  { what: 'ZZ', change: (s) => s.spec.edge.geo!.countries.push('ZZ'), path: 'spec.edge.geo.countries[3]', message: /not an assigned/ },
  // Guest networks.
  { what: 'a gateway outside the CIDR', change: (s) => (s.spec.guests[0]!.network!.gateway = '10.0.0.1'), path: 'spec.guests[0].network.gateway', message: /outside the guest's network 192\.168\.1\.0\/24/ },
  { what: 'the guest as its own gateway', change: (s) => (s.spec.guests[0]!.network!.gateway = '192.168.1.50'), path: 'spec.guests[0].network.gateway', message: /own address/ },
  { what: 'the network address as gateway', change: (s) => (s.spec.guests[0]!.network!.gateway = '192.168.1.0'), path: 'spec.guests[0].network.gateway', message: /network address/ },
  // Storage paths and sizes.
  { what: 'a dir storage in /var/lib/vz', change: (s) => Object.assign(s.spec.storage![0]!, { path: '/var/lib/vz' }), path: 'spec.storage[0].path', message: /system directory/ },
  { what: 'a dir storage climbing out with ..', change: (s) => Object.assign(s.spec.storage![0]!, { path: '/mnt/../etc' }), path: 'spec.storage[0].path', message: /"\.\." segments/ },
  { what: '300 cores', change: (s) => (s.spec.guests[0]!.cores = 300), path: 'spec.guests[0].cores', message: /at most 128/ },
  { what: '256 MiB of memory', change: (s) => (s.spec.guests[0]!.memoryMiB = 256), path: 'spec.guests[0].memoryMiB', message: /at least 512/ },
  { what: 'less memory than its apps need', change: (s) => (s.spec.guests[0]!.memoryMiB = 1024), path: 'spec.guests[0].memoryMiB', message: /less than the \d+ MiB its apps need/ },
  // Placement, backups, identities, secrets, policy.
  { what: 'a hot volume on a fast bulk storage', change: (s) => {
    Object.assign(s.spec.storage![0]!, { class: 'fast' });
    s.spec.apps![0]!.volumes = { ...s.spec.apps![0]!.volumes, database: { storage: 'usb-media' } } as never;
  }, path: 'spec.apps[0].volumes.database.storage', message: /must stay on the guest root filesystem/ },
  { what: 'a bulk backup onto the bulk disk', change: (s) => {
    s.spec.storage![0]!.roles.push('backup');
    s.spec.backup.bulk = { storage: 'usb-media', schedule: 'daily', retention: { keepDaily: 7 } };
  }, path: 'spec.backup.bulk.storage', message: /holds bulk volumes itself/ },
  { what: 'the same disk twice, in another case', change: (s) => s.spec.storage!.push({ ...(s.spec.storage![0]! as object), name: 'usb-again', identity: (s.spec.storage![0]!.identity as string).toUpperCase() } as never), path: 'spec.storage[3].identity', message: /duplicate storage identity/ },
  { what: 'an edited PGP message', change: (s) => (s.spec.edge.tunnel!.token = { encrypted: '-----BEGIN PGP MESSAGE-----\nnot base64 at all!\n-----END PGP MESSAGE-----\n' }), path: 'spec.edge.tunnel.token.encrypted', message: /blank line|base64/ },
  { what: 'an unknown advisory rule', change: (s) => (s.spec.policy = { advisory: ['images-pined'] }), path: 'spec.policy.advisory[0]', message: /unknown policy rule "images-pined"/ },
];

/** What plan says of a spec, validation skipped: undefined when it plans. */
async function planRefusal(spec: DraftSpec): Promise<string | undefined> {
  try {
    await planBox(spec as BoxSpec, { tiers: ['edge', 'host', 'guest'], catalog });
    return undefined;
  } catch (error) {
    if (error instanceof ComponentArgsError) return error.message;
    return `not a component refusal: ${(error as Error).message}`;
  }
}

for (const fixture of fixtures) {
  t.test(`${fixture.what}: validate ${fixture.path ? `refuses at ${fixture.path}` : 'accepts'}, and plan agrees`, async (t) => {
    const spec = homeBox(fixture.change);
    const result = validateBoxSpec(spec, { catalog });
    if (!fixture.path) {
      t.same(result.ok ? [] : result.problems, [], 'validate accepts it');
      t.equal(await planRefusal(spec), undefined, 'and so does plan');
      return;
    }
    t.notOk(result.ok, 'validate refuses it');
    const problems = result.ok ? [] : result.problems;
    const found = problems.find((problem) => problem.path === fixture.path);
    t.ok(found, `a problem at ${fixture.path} (got ${problems.map((p) => p.path).join(', ')})`);
    if (found && fixture.message) t.match(found.message, fixture.message);
    // plan either refuses it too, or (for a rule only the spec knows) builds it: never the other way round.
    const refusal = await planRefusal(spec);
    if (refusal) t.notMatch(refusal, /^not a component refusal/, refusal);
  });
}

t.test('one type error does not hide a reference error elsewhere', async (t) => {
  const result = validateBoxSpec(homeBox((s) => {
    Object.assign(s.spec.guests[0]!, { cores: 'four' });
    s.spec.backup.jobs[0]!.storage = 'no-such-storage';
  }), { catalog });
  t.same(result.ok ? [] : result.problems.map((p) => p.path).sort(), ['spec.backup.jobs[0].storage', 'spec.guests[0].cores']);
});

t.test('every parameter of every catalog app can be set from a spec', async (t) => {
  const templates = ['audiobookshelf', 'forgejo', 'freshrss', 'home-assistant', 'immich', 'jellyfin', 'mealie', 'nextcloud', 'paperless-ngx', 'syncthing', 'uptime-kuma', 'vaultwarden'];
  const spec = homeBox((s) => {
    s.spec.guests[0]!.memoryMiB = 65536;
    s.spec.apps = templates.map((template) => ({
      name: template,
      template,
      parameters: Object.fromEntries((catalog(template)!.parameters ?? []).map((p) => [p.name, p.type === 'number' ? 1 : p.type === 'boolean' ? true : 'x'])),
    })) as never;
  });
  const names = templates.flatMap((template) => (catalog(template)!.parameters ?? []).map((p) => p.name));
  t.ok(names.some((name) => name.includes('-')), 'the catalog has dashed parameter names');
  const result = validateBoxSpec(spec, { catalog });
  t.same(result.ok ? [] : result.problems.filter((p) => p.path.includes('.parameters')), []);
});

t.test('a YAML alias bomb is an invalid spec, not an internal error', async (t) => {
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]'].join('\n');
  const error = t.throws(() => parseBoxSpec(bomb, 'bomb.yaml')) as SpecError;
  t.type(error, SpecError);
  t.equal(describeFailure(error).exitCode, 1);
  t.match(error.details.join('\n'), /too many alias expansions/);
});

t.test('two YAML documents are named as a spec problem', async (t) => {
  const error = t.throws(() => parseBoxSpec('apiVersion: felhom.dev/v1alpha1\n---\nkind: Box\n', 'two.yaml')) as SpecError;
  t.match(error.details.join('\n'), /expected one YAML document, found a second one/);
  t.notMatch(error.details.join('\n'), /parseAllDocuments/);
});
