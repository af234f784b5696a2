/**
 * Box spec fixtures: the examples as parsed documents, and small modifier helpers so a test
 * states only what it changes.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { BoxSpec } from '../../stacks/spec/types.js';
import type { AppManifest } from '../../templates/lib/manifest.js';
import type { CatalogLookup } from '../../stacks/spec/validate.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
export type DraftSpec = Mutable<BoxSpec>;

const exampleDir = new URL('../../examples/', import.meta.url);

/** A fresh copy of an example box spec document. */
export function example(name: 'home-box' | 'company-box'): DraftSpec {
  return parse(readFileSync(new URL(`${name}.yaml`, exampleDir), 'utf8')) as DraftSpec;
}

/** The home box with `change` applied to a copy. */
export function homeBox(change: (spec: DraftSpec) => void = () => {}): DraftSpec {
  const spec = example('home-box');
  change(spec);
  return spec;
}

/** The company box (three customer LXCs on one host) with `change` applied. */
export function companyBox(change: (spec: DraftSpec) => void = () => {}): DraftSpec {
  const spec = example('company-box');
  change(spec);
  return spec;
}

/** A minimal catalog for validator tests: every app has a hot `data` volume; some a bulk one. */
export function fakeCatalog(): CatalogLookup {
  const manifest = (name: string, bulk?: string): AppManifest => ({
    apiVersion: 'felhom.dev/app/v1alpha1',
    name,
    title: name,
    description: `${name} for tests`,
    version: '1.0.0',
    http: { service: 'app', port: 8080 },
    services: [{ name: 'app', image: `example.org/${name}`, tag: '1.0.0', ports: [8080], mounts: [{ volume: 'data', path: '/data' }, ...(bulk ? [{ volume: bulk, path: `/${bulk}` }] : [])] }],
    volumes: [{ name: 'data', class: 'hot' }, ...(bulk ? [{ name: bulk, class: 'bulk' as const }] : [])],
    parameters: [{ name: 'timezone', description: 'Time zone', type: 'string', default: 'Europe/Budapest' }],
  });
  const apps = new Map<string, AppManifest>([
    ['immich', manifest('immich', 'library')],
    ['nextcloud', manifest('nextcloud', 'files')],
    ['jellyfin', manifest('jellyfin', 'media')],
    ['vaultwarden', manifest('vaultwarden')],
    ['paperless-ngx', manifest('paperless-ngx', 'documents')],
    ['forgejo', manifest('forgejo')],
    ['uptime-kuma', manifest('uptime-kuma')],
  ]);
  return (template) => apps.get(template);
}
