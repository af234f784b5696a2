/**
 * `felhom completion bash|zsh|fish`, each script run in its real shell: the candidates for a
 * command line are what `felhom --help` lists, with option values and without deprecated flags.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { felhom } from '../helpers/cli.js';

function requireShell(shell: string): void {
  if (spawnSync(shell, ['-c', 'exit 0']).error) throw new Error(`${shell} is missing: install the Debian package ${shell} (test/system-packages.txt)`);
}

async function script(t: Test, shell: string): Promise<string> {
  const result = await felhom(['completion', shell]);
  t.equal(result.code, 0, result.stderr);
  const file = join(t.testdir(), `felhom.${shell}`);
  writeFileSync(file, result.stdout);
  return file;
}

function bashCandidates(file: string, line: string): string[] {
  const program = `source "$1"; read -ra COMP_WORDS <<< "$2"; [[ $2 == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _felhom; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', program, 'bash', file, line], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

function fishCandidates(file: string, line: string): string[] {
  return execFileSync('fish', ['-c', 'source $argv[1]; complete -C $argv[2]', file, line], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((entry) => entry.split('\t')[0]!);
}

function zshScreen(file: string, line: string): string {
  const capture = new URL('../fixtures/completion/capture.zsh', import.meta.url).pathname;
  const screen = execFileSync('zsh', ['-f', capture, file, line], { encoding: 'utf8', timeout: 30_000 });
  return screen.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
}

t.test('bash: commands, group members, option names, option values, files', async (t) => {
  requireShell('bash');
  const file = await script(t, 'bash');
  t.same(bashCandidates(file, 'felhom ke'), ['keys']);
  t.same(bashCandidates(file, 'felhom keys '), ['generate', 'list', '--help']);
  t.same(bashCandidates(file, 'felhom trust init --pu'), ['--public-key']);
  t.same(bashCandidates(file, 'felhom trust init --k'), [], 'a deprecated spelling is not offered');
  t.same(bashCandidates(file, 'felhom sign x.yaml --tier '), ['edge', 'host', 'guest']);
  t.same(bashCandidates(file, 'felhom completion '), ['bash', 'zsh', 'fish', '--help']);
  t.same(bashCandidates(file, 'felhom --debug hub rep'), ['reports'], 'global options before the command are skipped');
  t.ok(bashCandidates(file, 'felhom validate examples/').includes('examples/home-box.yaml'), 'a spec argument completes file names');
  t.same(bashCandidates(file, 'felhom keys generate --name '), [], 'a name is not a file');
});

t.test('fish: the same tree, with descriptions', async (t) => {
  requireShell('fish');
  const file = await script(t, 'fish');
  t.same(fishCandidates(file, 'felhom ke'), ['keys']);
  t.same(fishCandidates(file, 'felhom keys ').sort(), ['generate', 'list']);
  t.same(fishCandidates(file, 'felhom sign --tier ').sort(), ['edge', 'guest', 'host']);
  t.same(fishCandidates(file, 'felhom trust init --pub'), ['--public-key']);
  t.same(fishCandidates(file, 'felhom completion ').sort(), ['bash', 'fish', 'zsh']);
  t.ok(fishCandidates(file, 'felhom validate examples/').includes('examples/home-box.yaml'));
});

t.test('zsh: commands with descriptions, option values', async (t) => {
  requireShell('zsh');
  const file = await script(t, 'zsh');
  t.match(zshScreen(file, 'felhom keys '), /generate +-- generate an OpenPGP/);
  t.match(zshScreen(file, 'felhom keys '), /list +-- list the OpenPGP keys/);
  t.match(zshScreen(file, 'felhom sign --tier '), /edge +guest +host/);
});

t.test('an unknown shell is a usage error naming the choices', async (t) => {
  const result = await felhom(['completion', 'powershell']);
  t.equal(result.code, 2);
  t.match(result.stderr, /^felhom: EUSAGE: .*Allowed choices are bash, zsh, fish/m);
});
