import t from 'tap';
import { validateBoxSpec, type Problem } from '../../../stacks/spec/validate.js';
import { parseBoxSpec, SpecError } from '../../../stacks/spec/load.js';
import { companyBox, fakeCatalog, homeBox } from '../../helpers/box-spec.js';

const catalog = fakeCatalog();

/** The problems of a spec that must be invalid. */
function problemsOf(spec: unknown): Problem[] {
  const result = validateBoxSpec(spec, { catalog });
  if (result.ok) throw new Error('expected the spec to be invalid');
  return result.problems;
}

function messageAt(problems: Problem[], path: string): string {
  const found = problems.find((problem) => problem.path === path);
  if (!found) throw new Error(`no problem at ${path}; got ${problems.map((p) => `${p.path}: ${p.message}`).join(' | ')}`);
  return found.message;
}

t.test('the example home box and company box are valid', async (t) => {
  t.ok(validateBoxSpec(homeBox(), { catalog }).ok);
  t.ok(validateBoxSpec(companyBox(), { catalog }).ok);
});

t.test('an unknown field is named with its path and the fields expected there', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.guests[0]!, { memoryMB: 4096 })));
  t.match(messageAt(problems, 'spec.guests[0].memoryMB'), /^unknown field; expected one of name, vmId, cores, memoryMiB/);
});

t.test('a wrong type says what was expected and what was given', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.guests[0]!, { cores: 'four' })));
  t.equal(messageAt(problems, 'spec.guests[0].cores'), 'expected an integer, got "four"');
});

t.test('a missing required field is reported', async (t) => {
  const problems = problemsOf(homeBox((s) => delete (s.spec as { domain?: string }).domain));
  t.equal(messageAt(problems, 'spec.domain'), 'required field is missing');
});

t.test('every problem is reported at once, not only the first', async (t) => {
  const problems = problemsOf(
    homeBox((s) => {
      Object.assign(s.spec.guests[0]!, { cores: 0 });
      Object.assign(s.metadata, { box: 'Not Valid' });
      Object.assign(s.spec.edge.cloudflare, { zoneId: 'xyz' });
    }),
  );
  t.same(problems.map((p) => p.path).sort(), ['metadata.box', 'spec.edge.cloudflare.zoneId', 'spec.guests[0].cores']);
});

t.test('a storage identity must match its type', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.storage![1]!, { identity: 'nas.lan/volume1' })));
  t.equal(messageAt(problems, 'spec.storage[1].identity'), 'expected server:/export, got "nas.lan/volume1"');
});

t.test('an unknown storage type lists the known ones', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.storage![0]!, { type: 'zfs' })));
  t.equal(messageAt(problems, 'spec.storage[0].type'), 'expected one of dir, nfs, cifs, pbs, got "zfs"');
});

t.test('a plaintext secret is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.storage![2]!, { password: 'hunter2' })));
  t.match(messageAt(problems, 'spec.storage[2].password'), /plaintext secrets are not allowed in a box spec, got a plain string/);
  t.notMatch(JSON.stringify(problems), /hunter2/, 'the secret itself is not echoed');
});

t.test('duplicate guest names and VM ids are refused', async (t) => {
  const problems = problemsOf(companyBox((s) => Object.assign(s.spec.guests[2]!, { name: 'office', vmId: 300 })));
  t.match(messageAt(problems, 'spec.guests[2].name'), /duplicate guest name "office", already used at index 0/);
  t.match(messageAt(problems, 'spec.guests[2].vmId'), /duplicate VM id 300, already used at index 0/);
});

t.test('duplicate app and storage names are refused', async (t) => {
  const problems = problemsOf(
    homeBox((s) => {
      Object.assign(s.spec.apps![1]!, { name: 'photos' });
      Object.assign(s.spec.storage![1]!, { name: 'usb-media' });
    }),
  );
  t.match(messageAt(problems, 'spec.apps[1].name'), /duplicate app name "photos"/);
  t.match(messageAt(problems, 'spec.storage[1].name'), /duplicate storage name "usb-media"/);
});

t.test('a bulk volume placed on a storage with no bulk role is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.apps![0]!, { volumes: { library: { storage: 'nas-backup' } } })));
  t.equal(
    messageAt(problems, 'spec.apps[0].volumes.library.storage'),
    'bulk volume "library" placed on storage "nas-backup", which has no bulk role (roles: backup)',
  );
});

t.test('a hot volume placed anywhere but rootfs is refused (it would be a bind mount outside the guest backup)', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.apps![0]!, { volumes: { data: { storage: 'usb-media' } } })));
  t.equal(
    messageAt(problems, 'spec.apps[0].volumes.data.storage'),
    'hot volume "data" must stay on the guest root filesystem (storage: rootfs), inside the guest backup; "usb-media" would be a bind mount on a bulk mount point',
  );
});

t.test('a placement on a volume the app does not have is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.apps![0]!, { volumes: { photos: { storage: 'usb-media' } } })));
  t.equal(messageAt(problems, 'spec.apps[0].volumes.photos'), 'immich has no volume "photos"; expected one of data, library');
});

t.test('a guest mount of a storage without the bulk role is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => s.spec.guests[0]!.mounts!.push({ storage: 'nas-backup', sizeGiB: 10 })));
  t.equal(messageAt(problems, 'spec.guests[0].mounts[1].storage'), 'storage "nas-backup" has no bulk role (roles: backup)');
});

t.test('an unknown app template is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.apps![2]!, { template: 'plex' })));
  t.equal(messageAt(problems, 'spec.apps[2].template'), 'unknown app template "plex"; see felhom catalog list');
});

t.test('an unknown or mistyped app parameter is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.apps![2]!, { parameters: { timezone: 1, colour: 'red' } })));
  t.equal(messageAt(problems, 'spec.apps[2].parameters.timezone'), 'expected a string, got number');
  t.match(messageAt(problems, 'spec.apps[2].parameters.colour'), /^unknown parameter of jellyfin/);
});

t.test('an app on a guest that does not exist is refused', async (t) => {
  const problems = problemsOf(companyBox((s) => Object.assign(s.spec.apps![0]!, { guest: 'sales' })));
  t.equal(messageAt(problems, 'spec.apps[0].guest'), 'no guest named "sales" in spec.guests');
});

t.test('a hostname outside the customer domain is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.apps![0]!, { hostname: 'photos.evil.example' })));
  t.equal(messageAt(problems, 'spec.apps[0].hostname'), '"photos.evil.example" is outside the customer domain kovacs-otthon.hu');
});

t.test('two apps on one hostname are refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.apps![1]!, { hostname: 'photos.kovacs-otthon.hu' })));
  t.match(messageAt(problems, 'spec.apps[1].hostname'), /duplicate hostname "photos.kovacs-otthon.hu"/);
});

t.test('a backup schedule that references a missing storage is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.backup.jobs[0]!, { storage: 'nas' })));
  t.equal(messageAt(problems, 'spec.backup.jobs[0].storage'), 'no storage named "nas" in spec.storage');
});

t.test('a backup job on a storage without the backup role is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.backup.jobs[0]!, { storage: 'usb-media' })));
  t.equal(messageAt(problems, 'spec.backup.jobs[0].storage'), 'storage "usb-media" has no backup role (roles: bulk)');
});

t.test('a backup schedule without retention is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => Object.assign(s.spec.backup.jobs[0]!, { retention: { keepDaily: 0 } })));
  t.match(messageAt(problems, 'spec.backup.jobs[0].retention'), /^expected at least one keep-\* value above 0/);
});

t.test('a static address without a gateway is refused', async (t) => {
  const problems = problemsOf(homeBox((s) => delete s.spec.guests[0]!.network!.gateway));
  t.equal(messageAt(problems, 'spec.guests[0].network.gateway'), 'required with the static address 192.168.1.50/24');
});

t.test('a rootfs storage must be fast', async (t) => {
  const problems = problemsOf(homeBox((s) => s.spec.storage![0]!.roles.push('rootfs')));
  t.equal(messageAt(problems, 'spec.storage[0].roles'), 'a rootfs storage holds hot data and must be class fast, got class slow');
});

t.test('YAML that does not parse is one problem with its line, not a stack trace', async (t) => {
  const error = t.throws(() => parseBoxSpec('apiVersion: felhom.dev/v1alpha1\nspec: [unclosed\n', 'broken.yaml')) as SpecError;
  t.type(error, SpecError);
  t.equal(error.code, 'ESPEC');
  t.match(error.problems[0]!.path, /^\(yaml\) line \d+, column \d+$/);
});

t.test('problems from a file point at their line', async (t) => {
  const text = 'apiVersion: felhom.dev/v1alpha1\nkind: Box\nmetadata:\n  box: hb-1\n  customer: c-1\n  colour: red\nspec: {}\n';
  const error = t.throws(() => parseBoxSpec(text, 'spec.yaml', { catalog })) as SpecError;
  t.match(error.details, [/^metadata\.colour: unknown field; .* \(line 6\)$/]);
  t.ok(error.details.some((line) => line === 'spec.domain: required field is missing (line 7)'));
});

t.test('a non-object document is refused', async (t) => {
  t.same(problemsOf('just text'), [{ path: '', message: 'expected an object, got "just text"' }]);
});

t.test('field names that are Object.prototype properties (__proto__, toString, constructor) are unknown fields, not known ones', async (t) => {
  for (const name of ['__proto__', 'toString', 'constructor', 'hasOwnProperty']) {
    // JSON.parse makes each an own property, as a spec from a file would have it
    const spec = JSON.parse(JSON.stringify(homeBox()).replace('"spec":{', `"spec":{"${name}":{"x":1},`)) as unknown;
    const problems = problemsOf(spec);
    t.match(messageAt(problems, `spec.${name}`), /^unknown field; expected one of/, `spec.${name} is unknown`);
  }
  const tagged = JSON.parse(JSON.stringify(homeBox())) as { spec: { storage: { type: string }[] } };
  tagged.spec.storage[0]!.type = 'constructor';
  t.match(messageAt(problemsOf(tagged), 'spec.storage[0].type'), /^expected one of/, 'a tag named constructor picks no variant');
  const secret = JSON.parse(JSON.stringify(homeBox()).replace('{"ref":"pbs-token"}', '{"toString":"pbs-token"}')) as unknown;
  t.ok(problemsOf(secret).some((problem) => /expected exactly one of/.test(problem.message)), 'a secret keyed toString is no secret reference');
});

t.test('an encrypted secret whose armour YAML folded into one line (a double-quoted paste) is refused at validate time; a block scalar is valid', async (t) => {
  const { encryptSecret } = await import('../../../runner/envelope/index.js');
  const { testKey } = await import('../../helpers/keys.js');
  const armored = await encryptSecret('pbs-token-value', (await testKey('alice')).publicArmored);
  const yaml = (await import('node:fs')).readFileSync(new URL('../../../examples/home-box.yaml', import.meta.url), 'utf8');
  // given the guide's old advice: the armour pasted into a double-quoted string over several lines
  const folded = yaml.replace('password: { ref: pbs-token }', `password: { encrypted: "${armored.trimEnd().split('\n').join('\n        ')}" }`);
  const error = (() => {
    try {
      parseBoxSpec(folded, 'home-box.yaml', { catalog });
      return undefined;
    } catch (caught) {
      return caught;
    }
  })();
  t.type(error, SpecError, 'validate refuses it');
  t.match((error as SpecError).problems, [{ path: /password\.encrypted$/, message: /armoured OpenPGP message, one line per armour line.*block scalar/ }]);
  // when written as the guide now shows it, a block scalar, the armour survives and is valid
  const block = yaml.replace('password: { ref: pbs-token }', `password:\n        encrypted: |\n${armored.trimEnd().split('\n').map((line) => `          ${line}`).join('\n')}\n`);
  const spec = parseBoxSpec(block, 'home-box.yaml', { catalog }) as unknown as { spec: { storage: { password?: { encrypted: string } }[] } };
  t.equal(spec.spec.storage.find((storage) => storage.password)!.password!.encrypted, armored.trimEnd() + '\n', 'the armour is intact, byte for byte');
});
