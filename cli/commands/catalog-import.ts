/**
 * `felhom catalog import <compose.yml> [--name <app>] [--out-dir <dir>] [--force] [--json]`:
 * drafts a catalog manifest from an upstream Compose file. Without --out-dir the draft YAML goes to
 * stdout; with --out-dir it is written to <dir>/<name>/.felhom.yml, never over an existing manifest
 * without --force, and nothing is written when the import fails.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileDurably } from '../../runner/state/store.js';
import { join, resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { CliError, usageError } from '../errors.js';
import { renamedOption } from '../flags.js';
import { MANIFEST_FILE } from '../../templates/lib/catalog.js';
import { importCompose, renderDraft, type ImportResult } from '../../templates/lib/compose-import.js';
import { formatProblem } from '../../templates/lib/problems.js';

function reviewLines(result: ImportResult): string[] {
  const width = Math.max(...result.volumes.map((volume) => volume.volume.length), 6);
  return [
    ...result.volumes.map(
      (volume) => `  ${volume.volume.padEnd(width)}  ${volume.class.padEnd(4)}  ${volume.needsConfirmation ? '(confirm) ' : ''}${volume.reason}`,
    ),
    ...result.notes.map((note) => `  note: ${note}`),
    ...result.draftProblems.map((problem) => `  to fix: ${formatProblem(problem)}`),
  ];
}

const command: CommandModule = {
  description: 'draft a catalog manifest from an upstream Docker Compose file',
  configure(cmd) {
    cmd
      .argument('[compose]', 'the upstream compose file (its .env and env_files are read next to it)')
      .option('--name <app>', 'catalog name of the app (default: the compose name or its folder)')
      .option('--out-dir <dir>', 'write <dir>/<name>/.felhom.yml instead of printing the draft')
      .option('--force', 'overwrite an existing manifest with --out-dir')
      .option('--json', 'print the draft, the volume classes and the notes as JSON');
    renamedOption(cmd, '--out <dir>', '--out-dir');
  },
  async run(context, args, options) {
    const [composeFile] = args;
    if (!composeFile) throw usageError('catalog import needs a compose file');
    const path = resolve(context.cwd, composeFile);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new CliError('EFILE', `cannot read ${composeFile}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { fault: 'environment', cause });
    }
    const result = importCompose(text, path, { ...(typeof options.name === 'string' ? { name: options.name } : {}) });
    const yaml = renderDraft(result, composeFile);

    let written: string | null = null;
    if (typeof options.outDir === 'string') {
      const directory = join(resolve(context.cwd, options.outDir), result.manifest.name);
      const target = join(directory, MANIFEST_FILE);
      if (existsSync(target) && !options.force) {
        throw new CliError('EEXIST', `${target} already exists; pass --force to overwrite it`);
      }
      mkdirSync(directory, { recursive: true });
      // A crash never leaves half a manifest in the catalog.
      await writeFileDurably(target, yaml, 0o644);
      written = target;
    }

    if (options.json) {
      context.out.json({ name: result.manifest.name, written, volumes: result.volumes, notes: result.notes, draftProblems: result.draftProblems, manifest: result.manifest });
      return;
    }
    if (written === null) {
      context.out.line(yaml.trimEnd());
      return;
    }
    context.out.line(`wrote ${written}`);
    context.out.line(`volumes of ${result.manifest.name} (confirm each class):`);
    for (const line of reviewLines(result)) context.out.line(line);
  },
};

export default command;
