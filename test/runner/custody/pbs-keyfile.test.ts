import { createDecipheriv, pbkdf2Sync, scryptSync } from 'node:crypto';
import t from 'tap';
import {
  changeKeyfilePassphrase,
  colonHex,
  createKeyfile,
  keyfileInfo,
  keyfileWithKey,
  openKeyfile,
  parseKeyfile,
  pbsKeyFingerprint,
  PbsKeyfileError,
  PBS_SCRYPT,
  rfc3339,
  shortKeyId,
} from '../../../runner/custody/pbs-keyfile.js';

/** Cheap scrypt for round trips; one test below uses PBS's own cost. */
const fast = { scrypt: { n: 1024, r: 8, p: 1 } };
const clock = (iso: string) => () => new Date(iso);

/**
 * The vector from proxmox-backup's own test (pbs-key-config/src/lib.rs `fingerprint_checks`):
 * the key 0, 1, ..., 31 has this fingerprint.
 */
const PBS_VECTOR_KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const PBS_VECTOR_FINGERPRINT = colonHex(Buffer.from([14, 171, 212, 70, 11, 110, 185, 202, 52, 80, 35, 222, 226, 183, 120, 199, 144, 229, 74, 22, 131, 185, 101, 156, 10, 87, 174, 25, 144, 144, 21, 155]));

t.test('the fingerprint is CryptConfig::fingerprint: PBS\'s own test vector', async (t) => {
  t.equal(pbsKeyFingerprint(PBS_VECTOR_KEY), PBS_VECTOR_FINGERPRINT);
  t.equal(PBS_VECTOR_FINGERPRINT.split(':').length, 32);
  t.equal(shortKeyId(PBS_VECTOR_FINGERPRINT), '0e:ab:d4:46:0b:6e:b9:ca');
});

t.test('a kdf-less keyfile as PBS serialises it opens to its key, and a wrong fingerprint is refused (PBS\'s fingerprint_checks)', async (t) => {
  const data = PBS_VECTOR_KEY.toString('base64');
  const withoutFingerprint = `{"kdf":null,"created":"2021-01-01T00:00:00+01:00","modified":"2021-01-01T00:00:00+01:00","data":"${data}"}`;
  const opened = await openKeyfile(withoutFingerprint, '');
  t.same([...opened.key], [...PBS_VECTOR_KEY]);
  t.equal(opened.fingerprint, PBS_VECTOR_FINGERPRINT);
  t.equal(opened.created, '2021-01-01T00:00:00+01:00');
  const wrong = `{"kdf":null,"created":"2021-01-01T00:00:00+01:00","modified":"2021-01-01T00:00:00+01:00","data":"${data}","fingerprint":"${colonHex(Buffer.alloc(32))}"}`;
  await t.rejects(openKeyfile(wrong, ''), { name: 'PbsKeyfileError', code: 'EKEYFILE_FINGERPRINT_MISMATCH', reason: 'fingerprint-mismatch' });
});

t.test('a created keyfile has PBS\'s fields in PBS\'s order and layout, and decrypts by the documented recipe alone', async (t) => {
  const created = await createKeyfile('correct horse', { ...fast, clock: clock('2026-12-03T05:00:00.123Z') });
  const json = JSON.parse(created.text);
  t.same(Object.keys(json), ['kdf', 'created', 'modified', 'data', 'fingerprint']);
  t.same(Object.keys(json.kdf), ['Scrypt']);
  t.same(Object.keys(json.kdf.Scrypt), ['n', 'r', 'p', 'salt']);
  t.equal(Buffer.from(json.kdf.Scrypt.salt, 'base64').length, 32);
  t.equal(json.created, '2026-12-03T05:00:00+00:00');
  t.equal(json.modified, json.created);
  t.equal(json.fingerprint, created.fingerprint);
  t.notOk(created.text.includes('\n'), 'compact JSON, as serde_json::to_string writes');
  // iv (16) | tag (16) | ciphertext (32), AES-256-GCM under scrypt(passphrase), no AAD.
  const data = Buffer.from(json.data, 'base64');
  t.equal(data.length, 64);
  const derived = scryptSync('correct horse', Buffer.from(json.kdf.Scrypt.salt, 'base64'), 32, { N: 1024, r: 8, p: 1 });
  const decipher = createDecipheriv('aes-256-gcm', derived, data.subarray(0, 16));
  decipher.setAuthTag(data.subarray(16, 32));
  const key = Buffer.concat([decipher.update(data.subarray(32)), decipher.final()]);
  t.equal(pbsKeyFingerprint(key), created.fingerprint);
});

t.test('PBS\'s default scrypt cost (n 65536, r 8, p 1) creates and opens', async (t) => {
  const created = await createKeyfile('correct horse');
  t.same(JSON.parse(created.text).kdf.Scrypt.n, PBS_SCRYPT.n);
  const opened = await openKeyfile(created.text, 'correct horse');
  t.equal(opened.fingerprint, created.fingerprint);
});

t.test('round trip: the same key comes back, a wrong passphrase is refused', async (t) => {
  const created = await keyfileWithKey(PBS_VECTOR_KEY, 'right passphrase', { ...fast, hint: 'the usual' });
  const opened = await openKeyfile(created.text, 'right passphrase');
  t.same([...opened.key], [...PBS_VECTOR_KEY]);
  t.equal(created.fingerprint, PBS_VECTOR_FINGERPRINT);
  const refused = await openKeyfile(created.text, 'wrong passphrase').catch((error: unknown) => error);
  t.ok(refused instanceof PbsKeyfileError);
  t.match(refused, { code: 'EKEYFILE_WRONG_PASSPHRASE', kind: 'stalled', fault: 'input' });
  t.match((refused as Error).message, /password hint: the usual/);
  t.notOk((refused as Error).message.includes('wrong passphrase') && (refused as Error).message.includes('right'), 'the passphrase is not in the error');
});

t.test('changing the passphrase keeps the key and created time, renews salt, iv and modified', async (t) => {
  const first = await keyfileWithKey(PBS_VECTOR_KEY, 'first passphrase', { ...fast, clock: clock('2026-01-01T00:00:00Z') });
  const second = await changeKeyfilePassphrase(first.text, 'first passphrase', 'second passphrase', { ...fast, clock: clock('2026-06-01T12:00:00Z') });
  const a = JSON.parse(first.text);
  const b = JSON.parse(second.text);
  t.equal(b.created, '2026-01-01T00:00:00+00:00');
  t.equal(b.modified, '2026-06-01T12:00:00+00:00');
  t.not(b.kdf.Scrypt.salt, a.kdf.Scrypt.salt);
  t.not(b.data, a.data);
  t.equal(second.fingerprint, first.fingerprint);
  t.same([...(await openKeyfile(second.text, 'second passphrase')).key], [...PBS_VECTOR_KEY]);
  await t.rejects(openKeyfile(second.text, 'first passphrase'), { code: 'EKEYFILE_WRONG_PASSPHRASE' });
  await t.rejects(changeKeyfilePassphrase(first.text, 'not it at all', 'x'.repeat(10), fast), { code: 'EKEYFILE_WRONG_PASSPHRASE' });
});

t.test('a PBKDF2 keyfile (PBS reads those too) opens', async (t) => {
  const salt = Buffer.alloc(32, 7);
  const iv = Buffer.alloc(16, 9);
  const derived = pbkdf2Sync('pbkdf2 pass', salt, 1000, 32, 'sha256');
  const { createCipheriv } = await import('node:crypto');
  const cipher = createCipheriv('aes-256-gcm', derived, iv);
  const encrypted = Buffer.concat([cipher.update(PBS_VECTOR_KEY), cipher.final()]);
  const text = JSON.stringify({ kdf: { PBKDF2: { iter: 1000, salt: salt.toString('base64') } }, created: '2020-01-01T00:00:00Z', modified: '2020-01-01T00:00:00Z', data: Buffer.concat([iv, cipher.getAuthTag(), encrypted]).toString('base64') });
  t.equal((await openKeyfile(text, 'pbkdf2 pass')).fingerprint, PBS_VECTOR_FINGERPRINT);
  t.same(keyfileInfo(text), { kdf: 'pbkdf2', created: '2020-01-01T00:00:00Z', modified: '2020-01-01T00:00:00Z', fingerprint: null, hint: null });
});

t.test('key show: metadata without the passphrase', async (t) => {
  const created = await createKeyfile('correct horse', { ...fast, hint: 'h', clock: clock('2026-02-02T02:02:02Z') });
  t.same(keyfileInfo(created.text), { kdf: 'scrypt', created: '2026-02-02T02:02:02+00:00', modified: '2026-02-02T02:02:02+00:00', fingerprint: created.fingerprint, hint: 'h' });
  t.equal(rfc3339(new Date('2026-02-02T02:02:02.999Z')), '2026-02-02T02:02:02+00:00');
});

t.test('passphrases shorter than PBS accepts are refused on create and open', async (t) => {
  await t.rejects(createKeyfile('four', fast), { code: 'EKEYFILE_WEAK_PASSPHRASE' });
  const created = await createKeyfile('fine passphrase', fast);
  await t.rejects(openKeyfile(created.text, 'four'), { code: 'EKEYFILE_WEAK_PASSPHRASE' });
});

t.test('malformed keyfiles are refused naming the field', async (t) => {
  const good = JSON.parse((await createKeyfile('correct horse', fast)).text);
  const cases: [string, unknown, RegExp][] = [
    ['not json', '{', /not JSON/],
    ['array', [], /not a JSON object/],
    ['no data', { ...good, data: undefined }, /field data: expected a string/],
    ['bad created', { ...good, created: 'yesterday' }, /field created: expected an RFC 3339 time/],
    ['bad base64', { ...good, data: 'not base64!' }, /field data: expected base64/],
    ['bad fingerprint', { ...good, fingerprint: 'abc' }, /field fingerprint/],
    ['bad hint', { ...good, hint: 5 }, /field hint/],
    ['kdf array', { ...good, kdf: [] }, /field kdf: expected/],
    ['kdf two', { ...good, kdf: { Scrypt: good.kdf.Scrypt, PBKDF2: { iter: 1, salt: '' } } }, /exactly one/],
    ['kdf unknown', { ...good, kdf: { Argon2: { salt: '' } } }, /unknown key derivation "Argon2"/],
    ['kdf params', { ...good, kdf: { Scrypt: null } }, /Scrypt: expected an object/],
    ['kdf salt', { ...good, kdf: { Scrypt: { ...good.kdf.Scrypt, salt: 5 } } }, /Scrypt.salt: expected base64/],
    ['scrypt n', { ...good, kdf: { Scrypt: { ...good.kdf.Scrypt, n: 1000 } } }, /Scrypt.n: expected a power of two/],
    ['scrypt r', { ...good, kdf: { Scrypt: { ...good.kdf.Scrypt, r: 0 } } }, /Scrypt.r: expected a positive integer/],
    ['pbkdf2 iter', { ...good, kdf: { PBKDF2: { iter: -1, salt: '' } } }, /PBKDF2.iter/],
  ];
  for (const [name, value, message] of cases) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    t.throws(() => parseKeyfile(text), { name: 'PbsKeyfileError', code: 'EKEYFILE_MALFORMED', message }, name);
  }
  await t.rejects(openKeyfile(JSON.stringify({ ...good, data: Buffer.alloc(20).toString('base64') }), 'correct horse'), { code: 'EKEYFILE_MALFORMED', message: /too short/ });
  await t.rejects(openKeyfile(JSON.stringify({ ...good, kdf: null, data: Buffer.alloc(16).toString('base64') }), ''), { code: 'EKEYFILE_MALFORMED', message: /16 bytes, not 32/ });
  await t.rejects(openKeyfile(JSON.stringify({ ...good, kdf: { Scrypt: { ...good.kdf.Scrypt, n: 2 ** 30 } } }), 'correct horse'), { code: 'EKEYFILE_MALFORMED', message: /key derivation failed/ });
  t.throws(() => pbsKeyFingerprint(Buffer.alloc(31)), { code: 'EKEYFILE_MALFORMED' });
});

t.test('the passphrase-less form (what a Proxmox VE storage holds) is kdf null with the bare key', async (t) => {
  const { keyfileWithoutPassphrase } = await import('../../../runner/custody/pbs-keyfile.js');
  const plain = keyfileWithoutPassphrase(PBS_VECTOR_KEY, '2026-01-01T00:00:00+00:00', { clock: clock('2026-03-01T00:00:00Z') });
  const json = JSON.parse(plain.text);
  t.same(Object.keys(json), ['kdf', 'created', 'modified', 'data', 'fingerprint']);
  t.equal(json.kdf, null);
  t.equal(json.modified, '2026-03-01T00:00:00+00:00');
  t.equal(plain.fingerprint, PBS_VECTOR_FINGERPRINT);
  t.same([...(await openKeyfile(plain.text, '')).key], [...PBS_VECTOR_KEY]);
  t.equal(keyfileInfo(plain.text).kdf, 'none');
});
