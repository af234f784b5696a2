import t from 'tap';
import { felhom } from '../helpers/cli.js';
import { commands, groups } from '../../cli/commands/index.js';

t.test('--help lists every command and every group with its summary, and exits 0', async (t) => {
  const result = await felhom(['--help']);
  t.equal(result.code, 0);
  for (const [group, summary] of Object.entries(groups)) {
    // A nested group (`hub operator`) is listed in its parent's help.
    const words = group.split(' ');
    const help = words.length === 1 ? result.stdout : (await felhom([...words.slice(0, -1), '--help'])).stdout;
    t.match(help, new RegExp(`^  ${words.at(-1)} +${summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), group);
  }
  for (const entry of commands.filter((command) => command.path.length === 1)) t.match(result.stdout, new RegExp(`^  ${entry.path[0]} `, 'm'), entry.path[0]);
});

t.test('every group word used by a command has a summary', async (t) => {
  for (const entry of commands.filter((command) => command.path.length > 1)) t.ok(groups[entry.path[0]!], entry.path.join(' '));
});

t.test('an error with a code prints one line with the code and exits with its status, without a stack trace', async (t) => {
  const result = await felhom(['verify', '/nonexistent/envelope.json', '--trust', '/nonexistent/trust.json', '--box', 'hb-1', '--tier', 'host']);
  t.equal(result.code, 3, 'an unreadable trust store is a failure outside the input');
  t.match(result.stderr, /^felhom: ETRUST: cannot read trust store \/nonexistent\/trust\.json: ENOENT$/m);
  t.notMatch(result.stderr, /^\s+at /m);
});

t.test('--debug adds the stack trace', async (t) => {
  const result = await felhom(['verify', '/nonexistent/envelope.json', '--trust', '/nonexistent/trust.json', '--box', 'hb-1', '--tier', 'host', '--debug']);
  t.equal(result.code, 3);
  t.match(result.stderr, /^\s+at /m);
});

t.test('--version and -V print the version of package.json and exit 0', async (t) => {
  const { version } = JSON.parse(await (await import('node:fs/promises')).readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const result = await felhom([flag]);
    t.equal(result.code, 0);
    t.equal(result.stdout, `${version}\n`);
  }
  const { felhomVersion } = await import('../../cli/version.js');
  t.equal(felhomVersion('/'), 'unknown', 'outside the package');
});
