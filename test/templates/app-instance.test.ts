import t from 'tap';
import { bindMountProblem, manifestVolume, parameterValueProblems } from '../../templates/lib/app-instance.js';
import { MANIFEST_API_VERSION, type AppManifest } from '../../templates/lib/manifest.js';

const manifest: AppManifest = {
  apiVersion: MANIFEST_API_VERSION,
  name: 'photos',
  title: 'Photos',
  description: 'Photos',
  version: '1',
  services: [{ name: 'web', image: 'example.org/photos', tag: '1' }],
  volumes: [{ name: 'db', class: 'hot' }, { name: 'library', class: 'bulk' }],
  parameters: [
    { name: 'upload-limit', description: 'Max upload', type: 'string', default: '2G' },
    { name: 'admin-email', description: 'The admin e-mail', type: 'string', required: true },
    { name: 'workers', description: 'Workers', type: 'number' },
  ],
};

t.test('given fitting values, no problem', async (t) => {
  t.same(parameterValueProblems(manifest, { 'admin-email': 'a@b.c', workers: 2 }), []);
});

t.test('an unknown parameter, a wrong type and a missing required one: each at its name', async (t) => {
  t.same(parameterValueProblems(manifest, { colour: 'red', workers: '2' }), [
    { path: 'colour', message: 'unknown parameter of photos; expected one of upload-limit, admin-email, workers' },
    { path: 'workers', message: 'expected a number, got string' },
    { path: 'admin-email', message: 'required by photos: The admin e-mail' },
  ]);
  t.same(parameterValueProblems({ ...manifest, parameters: undefined }, { x: 1 }), [{ path: 'x', message: 'unknown parameter of photos; expected one of (none)' }]);
});

t.test('a volume is looked up by name, or the reason names the ones there are', async (t) => {
  t.same(manifestVolume(manifest, 'library'), { name: 'library', class: 'bulk' });
  t.equal(manifestVolume(manifest, 'media'), 'photos has no volume "media"; expected one of db, library');
  t.equal(manifestVolume({ ...manifest, volumes: undefined }, 'media'), 'photos has no volume "media"; expected one of (none)');
});

t.test('a hot volume cannot be a bind mount on a bulk mount point; a bulk one can', async (t) => {
  t.equal(bindMountProblem({ name: 'db', class: 'hot' }, '"usb1"'), 'hot volume "db" must stay on the guest root filesystem (storage: rootfs), inside the guest backup; "usb1" would be a bind mount on a bulk mount point');
  t.equal(bindMountProblem({ name: 'library', class: 'bulk' }, '"usb1"'), undefined);
});
