/**
 * The box spec for programs that use this package (`felhom-infra/spec`, docs/box-spec.md): its
 * types, the validator, the loader and the defaults.
 */
export * from './types.js';
export * from './validate.js';
export * from './load.js';
export * from './resolve.js';
export { catalogLookup } from './catalog.js';
export { loadGoldenTemplate, type GoldenTemplate } from '../../templates/lib/golden.js';
