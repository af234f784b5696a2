#!/usr/bin/env node
// The `felhom` command. Sources are TypeScript compiled to dist/ by `npm run build`.
import module from 'node:module';

// The provider SDKs are large; caching their compiled code on disk cuts start-up by a quarter.
module.enableCompileCache?.();

// `felhom … | head` closes the pipe early: stop quietly, as other command-line tools do.
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
