/**
 * Runs the `felhom` command in-process with captured output, as a user would see it.
 */
import { main } from '../../cli/main.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function felhom(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    streams: { stdout: { write: (chunk: string) => (stdout += chunk) }, stderr: { write: (chunk: string) => (stderr += chunk) } },
    env: { ...process.env, ...options.env },
    cwd: options.cwd ?? process.cwd(),
    stopSignal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}
