/**
 * Felhom's Pulumi components: one per file, documented in docs/components.md.
 * Tier (docs/architecture.md#trust-tiers): host — CustomerLxc, StorageTarget, BackupJob, TunnelConnector;
 * guest — Traefik, AppStack; edge — Tunnel, GeoWaf.
 */
export * from './validation.js';
export * from './customer-lxc.js';
export * from './storage-target.js';
export * from './backup-job.js';
export * from './tunnel-connector.js';
export * from './traefik.js';
export * from './app-stack.js';
export * from './tunnel.js';
export * from './geo-waf.js';
