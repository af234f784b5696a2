import t from 'tap';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { felhom } from '../helpers/cli.js';
import { homeBox } from '../helpers/box-spec.js';

const dir = mkdtempSync(join(tmpdir(), 'felhom-validate-cli-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

t.test('a valid spec exits 0 and says what it holds', async (t) => {
  const result = await felhom(['validate', write('home.yaml', stringify(homeBox()))]);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /valid box spec hb-0001/);
});

t.test('every problem at once, each with its path and line, exit 1; --json lists them', async (t) => {
  const file = write('bad.yaml', stringify(homeBox((s) => {
    s.spec.backup.jobs[0]!.schedule = '30 2 * * *';
    s.spec.edge.geo!.countries.push('UK');
    Object.assign(s.spec.guests[0]!, { cores: 'four' });
  })));
  const result = await felhom(['validate', file]);
  t.equal(result.code, 1);
  t.match(result.stderr, /spec\.backup\.jobs\[0\]\.schedule: .*cron line.* \(line \d+\)/);
  t.match(result.stderr, /spec\.edge\.geo\.countries\[3\]: .*United Kingdom is GB/);
  t.match(result.stderr, /spec\.guests\[0\]\.cores: expected an integer/);
  const json = await felhom(['validate', file, '--json']);
  t.equal(json.code, 1);
  t.equal(JSON.parse(json.stdout).problems.length, 3);
});

t.test('a YAML alias bomb is ESPEC, exit 1, and --json prints the problem', async (t) => {
  const bomb = write('bomb.yaml', ['a: &a [x,x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]'].join('\n'));
  const human = await felhom(['validate', bomb]);
  t.equal(human.code, 1);
  t.match(human.stderr, /ESPEC/);
  t.notMatch(human.stderr, /EINTERNAL/);
  const json = await felhom(['validate', bomb, '--json']);
  t.equal(json.code, 1);
  t.match(JSON.parse(json.stdout).problems[0].message, /too many alias expansions/);
});

t.test('a missing or unreadable file exits 3', async (t) => {
  t.equal((await felhom(['validate', join(dir, 'nope.yaml')])).code, 3);
  const json = await felhom(['validate', join(dir, 'nope.yaml'), '--json']);
  t.equal(json.code, 3);
  t.match(JSON.parse(json.stdout).problems[0], { path: '(file)', message: /ENOENT/ });
  if (process.getuid?.() !== 0) {
    const locked = write('locked.yaml', 'x: 1\n');
    chmodSync(locked, 0o000);
    t.equal((await felhom(['validate', locked])).code, 3);
  }
});

t.test('two YAML documents: the message speaks of the spec', async (t) => {
  const result = await felhom(['validate', write('two.yaml', `${stringify(homeBox())}---\n${stringify(homeBox())}`)]);
  t.equal(result.code, 1);
  t.match(result.stderr, /expected one YAML document, found a second one/);
  t.notMatch(result.stderr, /parseAllDocuments/);
});
