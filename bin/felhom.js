#!/usr/bin/env node
// The `felhom` command. Sources are TypeScript compiled to dist/ by `npm run build`.
import module from 'node:module';

// The provider SDKs are large; caching their compiled code on disk cuts start-up by a quarter.
module.enableCompileCache?.();

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
