import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoldenTemplateError, loadGoldenTemplate, parseGoldenTemplate, templateFileId, validateGoldenTemplate } from '../../templates/lib/golden.js';

t.test('the shipped golden template is Debian 13 with Docker in an unprivileged LXC', async (t) => {
  const template = loadGoldenTemplate();
  t.equal(template.os.type, 'debian');
  t.equal(template.os.release, '13');
  t.match(template.os.templateFile, /^debian-13-standard_.*_amd64\.tar\.zst$/);
  t.equal(template.unprivileged, true);
  t.same(template.features, { nesting: true, keyctl: false, fuse: false });
  t.same(template.sizing, { cores: 2, memoryMiB: 4096, swapMiB: 512, diskGiB: 32 });
  t.ok(template.guest.docker.packages.includes('docker-ce'));
  t.ok(template.guest.docker.packages.includes('docker-compose-plugin'));
  t.equal(template.guest.controller.unit, 'felhom-controller.service');
  t.equal(template.console.mode, 'tty');
});

t.test('the template file id names the storage and the vztmpl content', async (t) => {
  const template = loadGoldenTemplate();
  t.equal(templateFileId(template, 'local'), `local:vztmpl/${template.os.templateFile}`);
});

function shippedDocument(): Record<string, any> {
  return structuredClone(loadGoldenTemplate()) as unknown as Record<string, any>;
}

t.test('given an unprivileged template without nesting, or with keyctl, validation names both features', async (t) => {
  const document = shippedDocument();
  document.features.nesting = false;
  document.features.keyctl = true;
  const problems = validateGoldenTemplate(document);
  t.same(problems.map((problem) => problem.path), ['features.nesting', 'features.keyctl']);
  t.match(problems[0]!.message, /needs nesting: true/);
  t.match(problems[1]!.message, /only root@pam/);
});

t.test('given unknown fields and wrong types, every problem is reported with its path', async (t) => {
  const document = shippedDocument();
  document.sizing.memoryMiB = '4G';
  document.features.mknod = true;
  document.os.templateFile = 'debian.iso';
  delete document.console;
  const paths = validateGoldenTemplate(document).map((problem) => problem.path);
  t.same(paths.sort(), ['console', 'features.mknod', 'os.downloadUrl', 'os.templateFile', 'sizing.memoryMiB'].sort());
});

t.test('a golden template file that does not parse throws GoldenTemplateError with the line', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'felhom-golden-'));
  const file = join(directory, 'golden.yml');
  writeFileSync(file, 'apiVersion: [unclosed\n');
  const error = t.throws(() => loadGoldenTemplate(file)) as unknown;
  t.type(error, GoldenTemplateError);
  t.equal((error as GoldenTemplateError).code, 'EGOLDEN');
  t.match((error as GoldenTemplateError).problems[0]!.message, /not valid YAML at line/);
});

t.test('a document that is not a mapping is refused at the document path', async (t) => {
  const error = t.throws(() => parseGoldenTemplate('- a\n- b\n')) as GoldenTemplateError;
  t.same(error.problems, [{ path: '(document)', message: 'expected a mapping, got a list of 2' }]);
});
