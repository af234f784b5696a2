/**
 * Compose import fixtures: inline compose text imported from a fresh folder, with the sibling
 * files (.env, env_files, bind-mounted files) a test names.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComposeImportError, importCompose, type ImportResult } from '../../templates/lib/compose-import.js';

/** Imports inline compose text from a fresh folder (with optional sibling files). */
export function importText(compose: string, siblings: Record<string, string> = {}, name = 'sample'): ImportResult {
  const dir = mkdtempSync(join(tmpdir(), 'felhom-import-'));
  for (const [file, text] of Object.entries(siblings)) writeFileSync(join(dir, file), text);
  const file = join(dir, 'compose.yml');
  writeFileSync(file, compose);
  return importCompose(compose, file, { name });
}

/** The error of an import that must fail. */
export function importError(compose: string, siblings: Record<string, string> = {}): ComposeImportError {
  try {
    importText(compose, siblings);
  } catch (error) {
    if (error instanceof ComposeImportError) return error;
    throw error;
  }
  throw new Error('expected the import to fail');
}
