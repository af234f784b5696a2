/**
 * Key escrow at the hub, over real HTTP and both stores: the box stores, reads and deletes its
 * blob; operators read it only under operator-managed custody; every access is kept. Then the
 * zero-knowledge claim itself: the hub's stored data (the lowdb file's bytes, every PostgreSQL
 * row) holds neither the key, nor the keyfile, nor the recovery code.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { HUB_DATA_FILE } from '../../hub/database.js';
import { startHub } from '../../hub/server.js';
import { HubClient } from '../../runner/hub/client.js';
import { generateKey, readPublicKey } from '../../runner/envelope/keys.js';
import { createKeyfile, openKeyfile } from '../../runner/custody/pbs-keyfile.js';
import { newRecoveryCode } from '../../runner/custody/recovery-code.js';
import { unwrapEscrow, wrapKeyfile } from '../../runner/custody/escrow.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const OPERATOR_TOKEN = 'operator-token-for-escrow-tests';
const cheap = { n: 1024, r: 8, p: 1 };

let postgres: TestPostgres;
t.before(async () => {
  postgres = await startPostgres(t);
});

interface Backend {
  /** Starts a hub; `dump()` is every byte the hub stored, as text. */
  start(t: Test): Promise<{ url: string; dump: () => Promise<string> }>;
}

const backends: Record<string, Backend> = {
  lowdb: {
    async start(t) {
      const dataDir = t.testdir();
      const hub = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN });
      t.teardown(() => hub.close());
      return { url: hub.url, dump: () => readFile(join(dataDir, HUB_DATA_FILE), 'utf8') };
    },
  },
  postgres: {
    async start(t) {
      const database = await postgres.createDatabase();
      const hub = await startHub({ database, operatorToken: OPERATOR_TOKEN });
      t.teardown(() => hub.close());
      return {
        url: hub.url,
        dump: async () => {
          const client = new pg.Client({ connectionString: database });
          await client.connect();
          try {
            const tables = await client.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
            const rows: string[] = [];
            for (const { tablename } of tables.rows) {
              const result = await client.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM ${pg.escapeIdentifier(tablename)} t`);
              rows.push(...result.rows.map((r) => `${tablename}: ${r.row}`));
            }
            return rows.join('\n');
          } finally {
            await client.end();
          }
        },
      };
    },
  },
};

async function setUp(t: Test, backend: Backend) {
  const hub = await backend.start(t);
  const operator = new HubClient({ url: hub.url, token: OPERATOR_TOKEN });
  const { apiKey } = await operator.enrollBox('home-1');
  const box = new HubClient({ url: hub.url, token: apiKey });
  return { ...hub, operator, box, apiKey };
}

async function escrowFor(box: string, custody: 'zero-knowledge-escrow' | 'operator-managed' = 'zero-knowledge-escrow', operatorKeys: Awaited<ReturnType<typeof readPublicKey>>[] = []) {
  const code = newRecoveryCode();
  const keyfile = await createKeyfile(code, { scrypt: cheap });
  const blob = await wrapKeyfile({ box, keyfile: keyfile.text, recoveryCode: code, custody, operatorKeys, scrypt: cheap });
  return { code, keyfile, blob };
}

for (const [name, backend] of Object.entries(backends)) {
  t.test(`${name}: the box stores, reads back and deletes its escrow; every access is kept`, async (t) => {
    const { box, operator } = await setUp(t, backend);
    t.equal(await box.fetchEscrow('home-1'), null, 'none before the first upload');
    const { code, keyfile, blob } = await escrowFor('home-1');
    const { storedAt } = await box.putEscrow('home-1', blob);
    const held = await box.fetchEscrow('home-1');
    t.same(held, { escrow: blob, storedAt });
    t.equal(await unwrapEscrow(held!.escrow, code, 'home-1'), keyfile.text);
    await t.rejects(operator.fetchEscrowAsOperator('home-1'), { code: 'EHUB_AUTH', hubCode: 'EESCROW_ZERO_KNOWLEDGE', status: 403 }, 'zero-knowledge: not served to operators');
    t.equal(await box.deleteEscrow('home-1'), true);
    t.equal(await box.deleteEscrow('home-1'), false);
    t.equal(await box.fetchEscrow('home-1'), null);
    const accesses = await box.listEscrowAccesses('home-1');
    t.same(accesses.map((a) => `${a.by}:${a.action}`), ['box:store', 'box:read', 'admin:read', 'box:delete']);
    t.ok(accesses.every((a) => a.fingerprint === keyfile.fingerprint));
    t.match(await operator.listActivity(), [{ operator: 'admin', action: 'escrow-read', subject: 'home-1' }]);
  });

  t.test(`${name}: operator-managed escrow is served to operators, and the read is kept for the customer`, async (t) => {
    const { box, operator } = await setUp(t, backend);
    const key = await generateKey({ name: 'op', email: 'op@example.org', passphrase: 'op pass' });
    const { blob } = await escrowFor('home-1', 'operator-managed', [await readPublicKey(key.publicKey)]);
    await box.putEscrow('home-1', blob);
    t.same((await operator.fetchEscrowAsOperator('home-1'))?.escrow, blob);
    t.same((await box.listEscrowAccesses('home-1')).map((a) => `${a.by}:${a.action}`), ['box:store', 'admin:read']);
    await t.rejects(operator.fetchEscrowAsOperator('nobody'), { code: 'EBOX_UNKNOWN', status: 404 });
  });

  t.test(`${name}: bad uploads are refused naming the field, and another box's key cannot touch the escrow`, async (t) => {
    const { box, operator, url } = await setUp(t, backend);
    const { blob } = await escrowFor('home-1');
    await t.rejects(box.putEscrow('home-1', { ...blob, iv: 'AAAA' }), { code: 'EESCROW_INVALID', status: 400, message: /iv: expected 12 bytes/ });
    const other = await escrowFor('home-2');
    await t.rejects(box.putEscrow('home-1', other.blob), { code: 'EESCROW_INVALID', message: /for box home-2, not home-1/ });
    const { apiKey } = await operator.enrollBox('home-2');
    const neighbour = new HubClient({ url, token: apiKey });
    await box.putEscrow('home-1', blob);
    await t.rejects(neighbour.fetchEscrow('home-1'), { code: 'EHUB_AUTH', status: 401 });
    await t.rejects(neighbour.putEscrow('home-1', blob), { code: 'EHUB_AUTH' });
    t.equal(await operator.fetchEscrowAsOperator('home-2'), null);
  });

  t.test(`${name}: a box that revokes its own key is locked out for good`, async (t) => {
    const { box } = await setUp(t, backend);
    await box.revokeOwnKey('home-1');
    await t.rejects(box.fetchEscrow('home-1'), { code: 'EHUB_AUTH', status: 401 });
    await t.rejects(box.revokeOwnKey('home-1'), { code: 'EHUB_AUTH' });
  });

  t.test(`${name}: the hub's stored data holds no key material and no recovery code`, async (t) => {
    const { box, dump } = await setUp(t, backend);
    const { code, keyfile, blob } = await escrowFor('home-1');
    await box.putEscrow('home-1', blob);
    await box.fetchEscrow('home-1');
    const stored = await dump();
    t.ok(stored.includes(blob.ciphertext), 'the dump does hold the blob (the search looks in the right place)');
    const raw = (await openKeyfile(keyfile.text, code)).key;
    const config = JSON.parse(keyfile.text);
    const secrets: Record<string, string> = {
      'raw key (hex)': raw.toString('hex'),
      'raw key (base64)': raw.toString('base64'),
      'raw key (base64url)': raw.toString('base64url'),
      'keyfile encrypted key': config.data,
      'keyfile salt': config.kdf.Scrypt.salt,
      'recovery code': code,
      'recovery code without dashes': code.replace(/-/g, ''),
      'recovery code lower-case': code.toLowerCase(),
      'recovery code, first group pair': code.slice(0, 9),
    };
    for (const [what, value] of Object.entries(secrets)) t.notOk(stored.includes(value), `no ${what} in the hub's data`);
    t.notOk(stored.toLowerCase().includes(raw.toString('hex').slice(0, 16)), 'not even a prefix of the raw key');
  });
}
