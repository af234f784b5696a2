/**
 * Test catalog apps for the guest tier on a real Docker daemon (test fixtures, not the real
 * catalog): their images are built by test/helpers/docker.ts and pulled by digest from the local
 * registry. `test-web` is one HTTP service; `test-db` is a "database" with a hot volume and a web
 * service that waits for it to be healthy. Also the home box with these apps in place of its own,
 * and the guest tier's environment pointing at the harness.
 */
import * as pulumi from '@pulumi/pulumi';
import type { TierEnvironment } from '../../stacks/environment.js';
import { resolveBox, type ResolvedBox } from '../../stacks/spec/resolve.js';
import { validateBoxSpec, type CatalogLookup } from '../../stacks/spec/validate.js';
import { loadGoldenTemplate } from '../../templates/lib/golden.js';
import type { AppManifest } from '../../templates/lib/manifest.js';
import { example } from './box-spec.js';
import type { BuiltImage } from './docker.js';

export interface TestAppImages {
  readonly web: BuiltImage;
  readonly db: BuiltImage;
}

const healthcheck = (test: string[]) => ({ test, intervalSeconds: 1, timeoutSeconds: 2, retries: 20, startPeriodSeconds: 1 });

function service(image: BuiltImage) {
  return { image: image.image, tag: image.tag, digest: image.digest };
}

/** The test catalog for `images`. */
export function testCatalog(images: TestAppImages): CatalogLookup {
  const base = { apiVersion: 'felhom.dev/app/v1alpha1', version: '1.0.0', description: 'a test app built from busybox' } as const;
  const web: AppManifest = {
    ...base,
    name: 'test-web',
    title: 'Test web',
    http: { service: 'web', port: 8080 },
    services: [{ name: 'web', ...service(images.web), ports: [8080], healthcheck: healthcheck(['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/health']), resources: { memoryMiB: 64 } }],
  };
  const db: AppManifest = {
    ...base,
    name: 'test-db',
    title: 'Test database',
    http: { service: 'web', port: 8080 },
    services: [
      { name: 'db', ...service(images.db), ports: [5432], mounts: [{ volume: 'data', path: '/data' }], healthcheck: healthcheck(['CMD', 'test', '-f', '/data/db.log']), resources: { memoryMiB: 64 } },
      {
        name: 'web',
        ...service(images.web),
        ports: [8080],
        dependsOn: ['db'],
        dependsOnCondition: { db: 'service_healthy' },
        healthcheck: healthcheck(['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/health']),
        resources: { memoryMiB: 64 },
      },
    ],
    volumes: [{ name: 'data', class: 'hot', description: 'the database file' }],
  };
  const apps = new Map([web, db].map((manifest) => [manifest.name, manifest]));
  return (template) => apps.get(template);
}

/** The home box with `apps` (name → template) of the test catalog as its only apps. */
export function testBox(catalog: CatalogLookup, apps: Readonly<Record<string, 'test-web' | 'test-db'>>): ResolvedBox {
  const draft = example('home-box');
  draft.spec.apps = Object.entries(apps).map(([name, template]) => ({ name, template }));
  draft.spec.policy = {};
  const validation = validateBoxSpec(draft, { catalog });
  if (!validation.ok) throw new Error(`the test box is invalid: ${validation.problems.map((problem) => `${problem.path}: ${problem.message}`).join('; ')}`);
  return resolveBox(validation.spec, catalog, loadGoldenTemplate().sizing);
}

/** The guest tier's environment on the harness: its daemon, and Traefik from the local registry. */
export function guestEnvironment(options: { dockerHost: string; dockerSocket: string; traefik: BuiltImage; httpPort: number }): TierEnvironment {
  return {
    secret: () => pulumi.secret('<test secret>'),
    dockerHost: options.dockerHost,
    traefik: { image: `${options.traefik.image}:${options.traefik.tag}`, digest: options.traefik.digest, httpPort: options.httpPort, dockerSocket: options.dockerSocket },
  };
}
