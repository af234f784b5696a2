/**
 * The hub's PostgreSQL storage ({@link HubStore}): for a fleet that outgrew one lowdb document,
 * and for several hub replicas on one database.
 *
 * - Every write is one transaction; a stream's serial floor is its row locked FOR UPDATE, an
 *   audit chain's head its box row. A replica killed mid-request leaves the write whole or
 *   absent, and a client that retries finds it once: a report sent again is the same report
 *   (unique by box, job and outcome), an audit entry sent again is accepted only unchanged.
 * - A commit that changes a stream's spec or jobs sends `NOTIFY felhom_hub` with the box, tier
 *   and commit time; every replica LISTENs on its own connection and wakes the long polls it
 *   holds for that stream. After losing that connection, a replica reconnects and wakes every
 *   poll it holds, so a notification missed meanwhile costs one re-read, not a stuck box.
 * - The schema comes from hub/migrations.ts, applied at start under an advisory lock (two
 *   replicas starting together migrate once).
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Tier } from '../stacks/spec/types.js';
import type { AuditEntry } from '../runner/state/audit.js';
import { Backoff } from '../runner/hub/backoff.js';
import { enrollmentStatusOf, newToken, REPORTS_KEPT_PER_BOX, secretMatchesHash, sha256Hex } from './database.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { CODE_FAILURE_WINDOW_MS, MAX_CODE_FAILURES, type EnrollmentCodeResponse, type EnrollmentStatus } from '../runner/hub/protocol.js';
import type { EscrowAccess, EscrowBlob, EscrowResponse, OperatorActivity, OperatorSummary, PendingJob, PublishResponse, Report, ReportRequest } from '../runner/hub/protocol.js';
import { HubRefusal } from './refusal.js';
import { readRoutingHeader } from './routing.js';
import { BOOTSTRAP_OPERATOR, BOX_ACTOR, boxThrottle, ESCROW_ACCESSES_KEPT, newAuditEntries, REVOKED_KEY_HASH, type CodeRegistration, type IssueCodeRequest, type RedeemOutcome, type BoxFacts, type ChangeListener, type HubStore, type StoredEnvelope, type TierFacts } from './store.js';
import { FelhomError } from '../lib/errors.js';

export const NOTIFY_CHANNEL = 'felhom_hub';
/** Envelopes kept per (box, tier) once superseded or finished; the current spec and pending jobs are always kept. */
export const ENVELOPES_KEPT_PER_STREAM = 1000;
/** A box's last contact is written at most this often (a poll every few seconds would otherwise be a write each). */
export const CONTACT_WRITE_INTERVAL_MS = 30_000;
/** Advisory lock key the migrations run under: the first 8 bytes of sha256("felhom-hub-migrations"). */
const MIGRATION_LOCK = createHash('sha256').update('felhom-hub-migrations').digest().readBigInt64BE(0).toString();

/** The database could not be reached or refused the hub: retry later or fix the URL (exit 3). */
export class HubDatabaseError extends FelhomError {
  declare readonly kind: 'stalled';
  /** The database is outside the input: the environment's fault. */
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, 'stalled', message, { ...options, fault: 'environment' });
  }
}

/** The URL without its password, for logs and start-up lines. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

export function isPostgresUrl(value: string): boolean {
  return /^postgres(?:ql)?:\/\//.test(value);
}

const iso = (value: Date | null): string | null => (value === null ? null : value.toISOString());
const num = (value: string | number | null): number | null => (value === null ? null : Number(value));

function checksum(migration: Migration): string {
  return sha256Hex(migration.sql);
}

type Queryable = pg.Pool | pg.PoolClient;

export interface PostgresStoreOptions {
  /** Connections in the pool. @default 10 */
  readonly poolSize?: number;
  /** Where to say that the notification connection was lost and regained (never secrets). */
  readonly log?: (line: string) => void;
}

export class PostgresHubStore implements HubStore {
  readonly location: string;
  readonly #url: string;
  readonly #pool: pg.Pool;
  readonly #log: (line: string) => void;
  readonly #listeners: ChangeListener[] = [];
  readonly #resync: (() => void)[] = [];
  readonly #touched = new Map<string, number>();
  #listener: pg.Client | null = null;
  #closed = false;
  #reconnect: NodeJS.Timeout | undefined;
  readonly #backoff = new Backoff({ baseMs: 200, capMs: 10_000 });

  private constructor(url: string, options: PostgresStoreOptions) {
    this.#url = url;
    this.location = redactDatabaseUrl(url);
    this.#log = options.log ?? (() => undefined);
    this.#pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle connection the server dropped must not crash the hub; the next query reconnects.
    this.#pool.on('error', (error) => this.#log(`hub database: idle connection lost: ${error.message}`));
  }

  /** Connects, applies the pending migrations, and starts listening for other replicas' changes. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresHubStore> {
    const store = new PostgresHubStore(url, options);
    try {
      await store.#migrate();
      await store.#listen();
    } catch (error) {
      await store.close();
      if (error instanceof HubDatabaseError) throw error;
      throw new HubDatabaseError('EHUB_DATABASE', `cannot open the hub database at ${store.location}: ${(error as Error).message}`, { cause: error });
    }
    return store;
  }

  /** The schema version the database is at. */
  async schemaVersion(): Promise<number> {
    const { rows } = await this.#pool.query<{ version: number | null }>('SELECT max(version) AS version FROM hub_schema_migrations');
    return rows[0]?.version ?? 0;
  }

  async #migrate(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS hub_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      const { rows } = await client.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM hub_schema_migrations ORDER BY version');
      const known = new Map(MIGRATIONS.map((m) => [m.version, m]));
      for (const row of rows) {
        const migration = known.get(row.version);
        if (!migration) throw new HubDatabaseError('EHUB_SCHEMA_NEWER', `the hub database at ${this.location} is at schema version ${row.version} (${row.name}), newer than this hub knows; run the newer hub`);
        if (checksum(migration) !== row.checksum) throw new HubDatabaseError('EHUB_SCHEMA_CHANGED', `migration ${row.version} (${row.name}) applied to ${this.location} differs from this hub's; migrations are never edited once released`);
      }
      const applied = new Set(rows.map((row) => row.version));
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO hub_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [migration.version, migration.name, checksum(migration)]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new HubDatabaseError('EHUB_MIGRATION', `migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`, { cause: error });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      client.release();
    }
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url });
    client.on('notification', (message) => {
      if (message.channel !== NOTIFY_CHANNEL || !message.payload) return;
      let change: { box?: unknown; tier?: unknown; at?: unknown };
      try {
        change = JSON.parse(message.payload) as typeof change;
      } catch {
        return;
      }
      if (typeof change.box !== 'string' || typeof change.tier !== 'string' || typeof change.at !== 'number') return;
      for (const listener of this.#listeners) listener(change.box, change.tier as Tier, change.at);
    });
    const lost = (why: string) => {
      if (this.#closed || this.#listener !== client) return;
      this.#listener = null;
      client.removeAllListeners('end');
      client.end().catch(() => undefined);
      this.#log(`hub database: notification connection lost (${why}); reconnecting`);
      this.#scheduleReconnect();
    };
    client.on('error', (error) => lost(error.message));
    client.on('end', () => lost('closed by the server'));
    await client.connect();
    await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    this.#listener = client;
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    this.#reconnect = setTimeout(() => {
      this.#listen().then(
        () => {
          this.#backoff.reset();
          this.#log('hub database: notification connection back; re-reading every held long poll');
          for (const resync of this.#resync) resync();
        },
        () => this.#scheduleReconnect(),
      );
    }, this.#backoff.next());
  }

  onChange(listener: ChangeListener): void {
    this.#listeners.push(listener);
  }

  /** Calls `listener` when notifications may have been missed (after a reconnect). */
  onResync(listener: () => void): void {
    this.#resync.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    const listener = this.#listener;
    this.#listener = null;
    await listener?.end().catch(() => undefined);
    await this.#pool.end().catch(() => undefined);
  }

  async #tx<R>(work: (client: pg.PoolClient) => Promise<R>): Promise<R> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw translate(error);
    } finally {
      client.release();
    }
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: unknown[] = [], on: Queryable = this.#pool): Promise<pg.QueryResult<R>> {
    try {
      return await on.query<R>(text, values);
    } catch (error) {
      throw translate(error);
    }
  }

  async #notify(client: pg.PoolClient, box: string, tier: Tier): Promise<void> {
    await client.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, JSON.stringify({ box, tier, at: Date.now() })]);
  }

  async #record(client: pg.PoolClient, entry: Omit<OperatorActivity, 'at'>): Promise<void> {
    await client.query('INSERT INTO hub_activity (at, operator, action, subject, tier, serial, digest) VALUES (now(), $1, $2, $3, $4, $5, $6)', [
      entry.operator,
      entry.action,
      entry.subject,
      entry.tier ?? null,
      entry.serial ?? null,
      entry.digest ?? null,
    ]);
  }

  // ---- boxes --------------------------------------------------------------------------------

  async hasBox(box: string): Promise<boolean> {
    const { rowCount } = await this.#query('SELECT 1 FROM hub_boxes WHERE box = $1', [box]);
    return rowCount === 1;
  }

  async enroll(box: string, by: string = BOOTSTRAP_OPERATOR): Promise<{ apiKey: string; enrolledAt: string }> {
    const apiKey = newToken('fhb');
    return this.#tx(async (client) => {
      const { rows } = await client.query<{ enrolled_at: Date }>(
        'INSERT INTO hub_boxes (box, key_hash, enrolled_at, enrolled_by) VALUES ($1, $2, now(), $3) ON CONFLICT (box) DO NOTHING RETURNING enrolled_at',
        [box, sha256Hex(apiKey), by],
      );
      if (rows.length === 0) throw new HubRefusal(409, 'EBOX_EXISTS', `box ${box} is already enrolled`);
      await this.#record(client, { operator: by, action: 'enroll', subject: box });
      return { apiKey, enrolledAt: rows[0]!.enrolled_at.toISOString() };
    });
  }

  async rotateKey(box: string, by: string = BOOTSTRAP_OPERATOR): Promise<{ apiKey: string; enrolledAt: string; keyRotatedAt: string }> {
    const apiKey = newToken('fhb');
    return this.#tx(async (client) => {
      const { rows } = await client.query<{ enrolled_at: Date; key_rotated_at: Date }>(
        'UPDATE hub_boxes SET key_hash = $2, key_rotated_at = now() WHERE box = $1 RETURNING enrolled_at, key_rotated_at',
        [box, sha256Hex(apiKey)],
      );
      if (rows.length === 0) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
      await this.#record(client, { operator: by, action: 'rotate-key', subject: box });
      return { apiKey, enrolledAt: rows[0]!.enrolled_at.toISOString(), keyRotatedAt: rows[0]!.key_rotated_at.toISOString() };
    });
  }

  async boxKeyMatches(box: string, apiKey: string): Promise<boolean> {
    const { rows } = await this.#query<{ key_hash: string }>('SELECT key_hash FROM hub_boxes WHERE box = $1', [box]);
    // Hash something even for an unknown box, so timing does not tell which boxes exist.
    return secretMatchesHash(apiKey, rows[0]?.key_hash ?? '0'.repeat(64)) && rows.length === 1;
  }

  async touch(box: string): Promise<void> {
    const now = Date.now();
    if (now - (this.#touched.get(box) ?? 0) < CONTACT_WRITE_INTERVAL_MS) return;
    this.#touched.set(box, now);
    await this.#query('UPDATE hub_boxes SET last_contact_at = now() WHERE box = $1', [box]);
  }

  // ---- in-guest controllers ------------------------------------------------------------------

  async registerGuestCredential(box: string, guest: string, credentialHash: string, now: Date): Promise<{ guest: string; registeredAt: string }> {
    await this.#query(
      `INSERT INTO hub_guest_credentials (box, guest, key_hash, registered_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (box, guest) DO UPDATE SET key_hash = EXCLUDED.key_hash, registered_at = EXCLUDED.registered_at`,
      [box, guest, credentialHash, now],
    );
    return { guest, registeredAt: now.toISOString() };
  }

  async guestByCredential(box: string, token: string): Promise<string | null> {
    // 256 random bits: looking one up by its hash reveals nothing about others.
    const { rows } = await this.#query<{ guest: string }>('SELECT guest FROM hub_guest_credentials WHERE box = $1 AND key_hash = $2', [box, sha256Hex(token)]);
    return rows[0]?.guest ?? null;
  }

  // ---- enrollment by code --------------------------------------------------------------------

  async issueEnrollmentCode(box: string, request: IssueCodeRequest, by: string, now: Date): Promise<EnrollmentCodeResponse> {
    const values = [box, request.codeHash, request.envelope, now, by, request.expiresAt];
    await this.#tx(async (client) => {
      if (!request.regenerate) {
        // No key works until the box redeems the code and registers its own.
        const { rowCount } = await client.query('INSERT INTO hub_boxes (box, key_hash, enrolled_at, enrolled_by) VALUES ($1, $2, $3, $4) ON CONFLICT (box) DO NOTHING', [box, sha256Hex(randomBytes(32)), now, by]);
        if (rowCount !== 1) throw new HubRefusal(409, 'EBOX_EXISTS', `box ${box} is already enrolled; pass --regenerate to replace a code it has not completed enrollment with`);
        await client.query('INSERT INTO hub_enrollments (box, code_hash, envelope, issued_at, issued_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', values);
        await this.#record(client, { operator: by, action: 'enroll', subject: box });
        return;
      }
      const boxRow = await client.query('SELECT 1 FROM hub_boxes WHERE box = $1 FOR UPDATE', [box]);
      if (boxRow.rowCount !== 1) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled; create its code without --regenerate`);
      const { rows } = await client.query<{ completed_at: Date | null }>('SELECT completed_at FROM hub_enrollments WHERE box = $1', [box]);
      if (rows.length === 0) throw new HubRefusal(409, 'EENROLL_NO_CODE', `box ${box} was enrolled with an API key, not a code; rotate its key instead`);
      if (rows[0]!.completed_at) throw new HubRefusal(409, 'EENROLL_COMPLETE', `box ${box} completed enrollment at ${rows[0]!.completed_at.toISOString()}; a code can no longer be regenerated for it`);
      // A credential the box registered with the old code stops working.
      await client.query('UPDATE hub_boxes SET key_hash = $2 WHERE box = $1', [box, sha256Hex(randomBytes(32))]);
      await client.query(
        `UPDATE hub_enrollments SET code_hash = $2, envelope = $3, issued_at = $4, issued_by = $5, expires_at = $6,
           used_at = NULL, failures = 0, failure_window_start = NULL, agent_public_key = NULL WHERE box = $1`,
        values,
      );
      await this.#record(client, { operator: by, action: 'regenerate-code', subject: box });
    });
    return { box, expiresAt: request.expiresAt.toISOString(), regenerated: request.regenerate };
  }

  async redeemEnrollmentCode(box: string, code: string, registration: CodeRegistration, now: Date): Promise<RedeemOutcome> {
    return this.#tx(async (client): Promise<RedeemOutcome> => {
      const { rows } = await client.query<{ code_hash: string; envelope: string; expires_at: Date; used_at: Date | null; failures: number; failure_window_start: Date | null }>(
        'SELECT code_hash, envelope, expires_at, used_at, failures, failure_window_start FROM hub_enrollments WHERE box = $1 FOR UPDATE',
        [box],
      );
      const record = rows[0];
      // Hash something even without a record, so timing does not tell which boxes have codes.
      const matches = secretMatchesHash(code, record?.code_hash ?? '0'.repeat(64)) && record !== undefined;
      if (!record) return { status: 'invalid' };
      const throttle = boxThrottle(record.failures, record.failure_window_start, now, MAX_CODE_FAILURES, CODE_FAILURE_WINDOW_MS);
      if (throttle.blocked > 0) return { status: 'throttled', retryAfterSeconds: throttle.blocked };
      if (!matches) {
        await client.query('UPDATE hub_enrollments SET failures = $2, failure_window_start = $3 WHERE box = $1', [box, throttle.next.failures, throttle.next.windowStart]);
        return { status: 'invalid' };
      }
      if (record.used_at) return { status: 'used', usedAt: record.used_at.toISOString() };
      if (now.getTime() >= record.expires_at.getTime()) return { status: 'expired', expiresAt: record.expires_at.toISOString() };
      await client.query('UPDATE hub_enrollments SET used_at = $2, agent_public_key = $3, failures = 0, failure_window_start = NULL WHERE box = $1', [box, now, registration.agentPublicKey]);
      await client.query('UPDATE hub_boxes SET key_hash = $2 WHERE box = $1', [box, registration.credentialHash]);
      return { status: 'redeemed', envelope: record.envelope };
    });
  }

  async enrollmentConfig(box: string): Promise<string | null> {
    const { rows } = await this.#query<{ envelope: string }>('SELECT envelope FROM hub_enrollments WHERE box = $1 AND used_at IS NOT NULL', [box]);
    return rows[0]?.envelope ?? null;
  }

  async completeEnrollment(box: string, now: Date): Promise<{ completedAt: string }> {
    const { rows } = await this.#query<{ completed_at: Date }>(
      'UPDATE hub_enrollments SET completed_at = coalesce(completed_at, $2) WHERE box = $1 AND used_at IS NOT NULL RETURNING completed_at',
      [box, now],
    );
    if (rows.length === 0) throw new HubRefusal(409, 'EENROLL_NOT_REDEEMED', `box ${box} has not redeemed an enrollment code`);
    return { completedAt: rows[0]!.completed_at.toISOString() };
  }

  async enrollmentStatus(box: string, now: Date): Promise<EnrollmentStatus | null> {
    const { rows } = await this.#query<{ issued_at: Date; issued_by: string; expires_at: Date; used_at: Date | null; completed_at: Date | null; agent_public_key: string | null }>(
      'SELECT issued_at, issued_by, expires_at, used_at, completed_at, agent_public_key FROM hub_enrollments WHERE box = $1',
      [box],
    );
    const row = rows[0];
    if (!row) return null;
    return enrollmentStatusOf(
      box,
      { issuedAt: row.issued_at.toISOString(), issuedBy: row.issued_by, expiresAt: row.expires_at.toISOString(), usedAt: iso(row.used_at), completedAt: iso(row.completed_at), agentPublicKey: row.agent_public_key },
      now,
    );
  }

  // ---- envelopes ----------------------------------------------------------------------------

  async publish(envelopeText: string, envelopeBytes: Uint8Array, by: string = BOOTSTRAP_OPERATOR): Promise<PublishResponse> {
    const header = readRoutingHeader(envelopeText);
    const digest = sha256Hex(envelopeBytes);
    const key = `${header.box}/${header.tier}`;
    await this.#tx(async (client) => {
      const box = await client.query('SELECT 1 FROM hub_boxes WHERE box = $1', [header.box]);
      if (box.rowCount !== 1) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${header.box} is not enrolled`);
      await client.query('INSERT INTO hub_streams (box, tier, last_serial) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING', [header.box, header.tier]);
      const { rows } = await client.query<{ last_serial: string }>('SELECT last_serial FROM hub_streams WHERE box = $1 AND tier = $2 FOR UPDATE', [header.box, header.tier]);
      const lastSerial = Number(rows[0]!.last_serial);
      if (header.serial <= lastSerial) {
        throw new HubRefusal(409, 'ESERIAL_NOT_INCREASING', `serial ${header.serial} is not above ${lastSerial}, the last published for ${key}`);
      }
      const inserted = await client.query<{ id: string }>(
        'INSERT INTO hub_envelopes (box, tier, type, serial, digest, payload_digest, envelope, published_at, published_by) VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8) RETURNING id',
        [header.box, header.tier, header.type, header.serial, digest, header.payloadDigest, envelopeText, by],
      );
      const id = inserted.rows[0]!.id;
      if (header.type === 'spec') {
        await client.query('UPDATE hub_streams SET last_serial = $3, spec_id = $4 WHERE box = $1 AND tier = $2', [header.box, header.tier, header.serial, id]);
      } else {
        await client.query('UPDATE hub_streams SET last_serial = $3 WHERE box = $1 AND tier = $2', [header.box, header.tier, header.serial]);
        await client.query('INSERT INTO hub_jobs (envelope_id, box, tier, payload_digest) VALUES ($1, $2, $3, $4)', [id, header.box, header.tier, header.payloadDigest]);
      }
      await this.#prune(client, header.box, header.tier);
      await this.#record(client, { operator: by, action: 'publish', subject: header.box, tier: header.tier, serial: header.serial, digest });
      await this.#notify(client, header.box, header.tier);
    });
    return { box: header.box, tier: header.tier, type: header.type, serial: header.serial, digest, payloadDigest: header.payloadDigest };
  }

  /** Drops the oldest superseded specs and finished jobs of a stream beyond {@link ENVELOPES_KEPT_PER_STREAM}. */
  async #prune(client: pg.PoolClient, box: string, tier: Tier): Promise<void> {
    await client.query(
      `DELETE FROM hub_envelopes e
        WHERE e.box = $1 AND e.tier = $2
          AND e.id <= (SELECT id FROM hub_envelopes WHERE box = $1 AND tier = $2 ORDER BY id DESC OFFSET $3 LIMIT 1)
          AND e.id IS DISTINCT FROM (SELECT spec_id FROM hub_streams WHERE box = $1 AND tier = $2)
          AND NOT EXISTS (SELECT 1 FROM hub_jobs j WHERE j.envelope_id = e.id AND j.finished_at IS NULL)`,
      [box, tier, ENVELOPES_KEPT_PER_STREAM],
    );
  }

  async lastSerial(box: string, tier: Tier): Promise<number> {
    const { rows } = await this.#query<{ last_serial: string }>('SELECT last_serial FROM hub_streams WHERE box = $1 AND tier = $2', [box, tier]);
    return rows[0] ? Number(rows[0].last_serial) : 0;
  }

  async spec(box: string, tier: Tier): Promise<StoredEnvelope | null> {
    const { rows } = await this.#query<{ digest: string; payload_digest: string; serial: string; type: 'spec'; envelope: string; published_at: Date; published_by: string }>(
      `SELECT e.digest, e.payload_digest, e.serial, e.type, e.envelope, e.published_at, e.published_by
         FROM hub_streams s JOIN hub_envelopes e ON e.id = s.spec_id WHERE s.box = $1 AND s.tier = $2`,
      [box, tier],
    );
    const row = rows[0];
    if (!row) return null;
    return { digest: row.digest, payloadDigest: row.payload_digest, serial: Number(row.serial), type: row.type, envelope: row.envelope, publishedAt: row.published_at.toISOString(), publishedBy: row.published_by };
  }

  async #pending(box: string, tier: Tier, withEnvelope: boolean): Promise<{ digest: string; payload_digest: string; serial: string; envelope: string | null }[]> {
    const { rows } = await this.#query<{ digest: string; payload_digest: string; serial: string; envelope: string | null }>(
      `SELECT e.digest, e.payload_digest, e.serial, ${withEnvelope ? 'e.envelope' : 'NULL AS envelope'}
         FROM hub_jobs j JOIN hub_envelopes e ON e.id = j.envelope_id
        WHERE j.box = $1 AND j.tier = $2 AND j.finished_at IS NULL ORDER BY j.envelope_id`,
      [box, tier],
    );
    return rows;
  }

  async pendingJobs(box: string, tier: Tier): Promise<PendingJob[]> {
    return (await this.#pending(box, tier, true)).map((row) => ({ id: row.payload_digest, serial: Number(row.serial), envelope: row.envelope! }));
  }

  async jobsEtag(box: string, tier: Tier): Promise<string> {
    return sha256Hex((await this.#pending(box, tier, false)).map((row) => row.digest).join(','));
  }

  // ---- reports and audit --------------------------------------------------------------------

  async addReport(box: string, request: ReportRequest): Promise<Report> {
    const changed = await this.#tx(async (client) => {
      const fresh: Report = { ...request, id: randomBytes(12).toString('hex'), box, receivedAt: new Date().toISOString() };
      const inserted = await client.query<{ report: Report }>(
        `INSERT INTO hub_reports (id, box, tier, job_id, outcome, report, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (box, job_id, outcome) DO NOTHING RETURNING report`,
        [fresh.id, box, request.tier, request.jobId, request.outcome, JSON.stringify(fresh), fresh.receivedAt],
      );
      if (inserted.rows.length === 0) {
        const existing = await client.query<{ report: Report }>('SELECT report FROM hub_reports WHERE box = $1 AND job_id = $2 AND outcome = $3', [box, request.jobId, request.outcome]);
        return { report: existing.rows[0]!.report, jobsChanged: false };
      }
      await client.query(
        'DELETE FROM hub_reports WHERE box = $1 AND seq <= (SELECT seq FROM hub_reports WHERE box = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1)',
        [box, REPORTS_KEPT_PER_BOX],
      );
      await client.query('UPDATE hub_boxes SET last_contact_at = now() WHERE box = $1', [box]);
      const finished = await client.query('UPDATE hub_jobs SET finished_at = now() WHERE box = $1 AND tier = $2 AND payload_digest = $3 AND finished_at IS NULL', [box, request.tier, request.jobId]);
      const jobsChanged = (finished.rowCount ?? 0) > 0;
      if (jobsChanged) await this.#notify(client, box, request.tier);
      return { report: fresh, jobsChanged };
    });
    return changed.report;
  }

  async reports(options: { box?: string; limit?: number } = {}): Promise<Report[]> {
    const limit = options.limit ?? 100;
    const { rows } =
      options.box === undefined
        ? await this.#query<{ report: Report }>('SELECT report FROM hub_reports ORDER BY seq DESC LIMIT $1', [limit])
        : await this.#query<{ report: Report }>('SELECT report FROM hub_reports WHERE box = $1 ORDER BY seq DESC LIMIT $2', [options.box, limit]);
    return rows.map((row) => row.report);
  }

  async auditEntries(box: string): Promise<AuditEntry[]> {
    const { rows } = await this.#query<{ entry: AuditEntry }>('SELECT entry FROM hub_audit WHERE box = $1 ORDER BY seq', [box]);
    return rows.map((row) => row.entry);
  }

  async appendAudit(box: string, entries: readonly AuditEntry[]): Promise<{ accepted: number; head: { seq: number; hash: string } | null }> {
    return this.#tx(async (client) => {
      // The box row is the chain's lock: uploads for one box are applied one after the other.
      await client.query('SELECT 1 FROM hub_boxes WHERE box = $1 FOR UPDATE', [box]);
      const headRow = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM hub_audit WHERE box = $1 ORDER BY seq DESC LIMIT 1', [box]);
      const head = headRow.rows[0] ? { seq: Number(headRow.rows[0].seq), hash: headRow.rows[0].hash } : null;
      const resent = entries.filter((entry) => Number.isSafeInteger(entry.seq) && entry.seq <= (head?.seq ?? 0)).map((entry) => entry.seq);
      const held = new Map<number, string>();
      if (resent.length > 0) {
        const { rows } = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM hub_audit WHERE box = $1 AND seq = ANY($2::bigint[])', [box, resent]);
        for (const row of rows) held.set(Number(row.seq), row.hash);
      }
      const fresh = newAuditEntries(box, entries, head, (seq) => held.get(seq));
      for (const entry of fresh) {
        await client.query('INSERT INTO hub_audit (box, seq, hash, entry) VALUES ($1, $2, $3, $4)', [box, entry.seq, entry.hash, JSON.stringify(entry)]);
      }
      const last = fresh.at(-1);
      return { accepted: fresh.length, head: last ? { seq: last.seq, hash: last.hash } : head };
    });
  }

  // ---- operators ----------------------------------------------------------------------------

  async addOperator(name: string, by: string): Promise<{ name: string; token: string; createdAt: string }> {
    const token = newToken('fho');
    if (name === BOOTSTRAP_OPERATOR) throw new HubRefusal(409, 'EOPERATOR_EXISTS', `operator ${name} already exists`);
    return this.#tx(async (client) => {
      const { rows } = await client.query<{ created_at: Date }>(
        'INSERT INTO hub_operators (name, token_hash, created_at, created_by) VALUES ($1, $2, now(), $3) ON CONFLICT (name) DO NOTHING RETURNING created_at',
        [name, sha256Hex(token), by],
      );
      if (rows.length === 0) throw new HubRefusal(409, 'EOPERATOR_EXISTS', `operator ${name} already exists`);
      await this.#record(client, { operator: by, action: 'add-operator', subject: name });
      return { name, token, createdAt: rows[0]!.created_at.toISOString() };
    });
  }

  async removeOperator(name: string, by: string): Promise<void> {
    await this.#tx(async (client) => {
      const { rowCount } = await client.query('DELETE FROM hub_operators WHERE name = $1', [name]);
      if (rowCount !== 1) throw new HubRefusal(404, 'EOPERATOR_UNKNOWN', `operator ${name} does not exist`);
      await this.#record(client, { operator: by, action: 'remove-operator', subject: name });
    });
  }

  async operatorByToken(token: string): Promise<string | null> {
    // Tokens are 256 random bits: looking one up by its hash reveals nothing about others.
    const { rows } = await this.#query<{ name: string }>('SELECT name FROM hub_operators WHERE token_hash = $1', [sha256Hex(token)]);
    return rows[0]?.name ?? null;
  }

  async operators(): Promise<OperatorSummary[]> {
    const { rows } = await this.#query<{ name: string; created_at: Date; created_by: string }>('SELECT name, created_at, created_by FROM hub_operators ORDER BY name');
    return rows.map((row) => ({ name: row.name, createdAt: row.created_at.toISOString(), createdBy: row.created_by }));
  }

  async activity(options: { limit?: number } = {}): Promise<OperatorActivity[]> {
    const { rows } = await this.#query<{ at: Date; operator: string; action: OperatorActivity['action']; subject: string; tier: Tier | null; serial: string | null; digest: string | null }>(
      'SELECT at, operator, action, subject, tier, serial, digest FROM hub_activity ORDER BY id DESC LIMIT $1',
      [options.limit ?? 100],
    );
    return rows.map((row) => ({
      at: row.at.toISOString(),
      operator: row.operator,
      action: row.action,
      subject: row.subject,
      ...(row.tier !== null ? { tier: row.tier } : {}),
      ...(row.serial !== null ? { serial: Number(row.serial) } : {}),
      ...(row.digest !== null ? { digest: row.digest } : {}),
    }));
  }

  // ---- key escrow ---------------------------------------------------------------------------

  async putEscrow(box: string, blob: EscrowBlob): Promise<{ storedAt: string }> {
    return this.#tx(async (client) => {
      const { rows } = await client.query<{ stored_at: Date }>(
        'INSERT INTO hub_escrow (box, escrow, stored_at) VALUES ($1, $2, now()) ON CONFLICT (box) DO UPDATE SET escrow = EXCLUDED.escrow, stored_at = EXCLUDED.stored_at RETURNING stored_at',
        [box, JSON.stringify(blob)],
      );
      await this.#escrowAccess(client, box, BOX_ACTOR, 'store', blob.fingerprint);
      return { storedAt: rows[0]!.stored_at.toISOString() };
    });
  }

  async readEscrow(box: string, by: string): Promise<EscrowResponse | null> {
    return this.#tx(async (client) => {
      const { rows } = await client.query<{ escrow: EscrowBlob; stored_at: Date }>('SELECT escrow, stored_at FROM hub_escrow WHERE box = $1', [box]);
      const row = rows[0];
      if (!row) return null;
      await this.#escrowAccess(client, box, by, 'read', row.escrow.fingerprint);
      if (by !== BOX_ACTOR) await this.#record(client, { operator: by, action: 'escrow-read', subject: box });
      return { escrow: row.escrow, storedAt: row.stored_at.toISOString() };
    });
  }

  async deleteEscrow(box: string): Promise<boolean> {
    return this.#tx(async (client) => {
      const { rows } = await client.query<{ escrow: EscrowBlob }>('DELETE FROM hub_escrow WHERE box = $1 RETURNING escrow', [box]);
      if (rows.length === 0) return false;
      await this.#escrowAccess(client, box, BOX_ACTOR, 'delete', rows[0]!.escrow.fingerprint);
      return true;
    });
  }

  async escrowAccesses(box: string): Promise<EscrowAccess[]> {
    const { rows } = await this.#query<{ at: Date; by_whom: string; action: EscrowAccess['action']; fingerprint: string | null }>(
      'SELECT at, by_whom, action, fingerprint FROM hub_escrow_access WHERE box = $1 ORDER BY id',
      [box],
    );
    return rows.map((row) => ({ at: row.at.toISOString(), by: row.by_whom, action: row.action, fingerprint: row.fingerprint }));
  }

  async revokeBoxKey(box: string): Promise<void> {
    const { rowCount } = await this.#query('UPDATE hub_boxes SET key_hash = $2, key_rotated_at = now() WHERE box = $1', [box, REVOKED_KEY_HASH]);
    if (rowCount !== 1) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
  }

  async #escrowAccess(client: pg.PoolClient, box: string, by: string, action: EscrowAccess['action'], fingerprint: string | null): Promise<void> {
    await client.query('INSERT INTO hub_escrow_access (box, at, by_whom, action, fingerprint) VALUES ($1, now(), $2, $3, $4)', [box, by, action, fingerprint]);
    await client.query('DELETE FROM hub_escrow_access WHERE box = $1 AND id NOT IN (SELECT id FROM hub_escrow_access WHERE box = $1 ORDER BY id DESC LIMIT $2)', [box, ESCROW_ACCESSES_KEPT]);
  }

  // ---- fleet view ---------------------------------------------------------------------------

  async fleetFacts(): Promise<BoxFacts[]> {
    const [boxes, streams, pending, last, applied] = await Promise.all([
      this.#query<{ box: string; enrolled_at: Date; last_contact_at: Date | null }>('SELECT box, enrolled_at, last_contact_at FROM hub_boxes'),
      this.#query<{ box: string; tier: Tier; serial: string | null }>('SELECT s.box, s.tier, e.serial FROM hub_streams s LEFT JOIN hub_envelopes e ON e.id = s.spec_id'),
      this.#query<{ box: string; tier: Tier; count: string }>('SELECT box, tier, count(*) AS count FROM hub_jobs WHERE finished_at IS NULL GROUP BY box, tier'),
      this.#query<{ box: string; tier: Tier; report: Report }>('SELECT DISTINCT ON (box, tier) box, tier, report FROM hub_reports ORDER BY box, tier, seq DESC'),
      this.#query<{ box: string; tier: Tier; serial: string | null }>(
        "SELECT DISTINCT ON (box, tier) box, tier, (report->>'serial')::bigint AS serial FROM hub_reports WHERE outcome = 'succeeded' AND report->>'serial' IS NOT NULL ORDER BY box, tier, seq DESC",
      ),
    ]);
    const tiers = new Map<string, { specSerial: number | null; pendingJobs: number; lastReport: TierFacts['lastReport']; appliedSerial: number | null }>();
    const tierOf = (box: string, tier: Tier) => {
      const key = `${box}\u0000${tier}`;
      let facts = tiers.get(key);
      if (!facts) tiers.set(key, (facts = { specSerial: null, pendingJobs: 0, lastReport: null, appliedSerial: null }));
      return facts;
    };
    for (const row of streams.rows) tierOf(row.box, row.tier).specSerial = num(row.serial);
    for (const row of pending.rows) tierOf(row.box, row.tier).pendingJobs = Number(row.count);
    for (const row of last.rows) {
      const r = row.report;
      tierOf(row.box, row.tier).lastReport = { outcome: r.outcome, receivedAt: r.receivedAt, jobId: r.jobId, ...(r.serial !== undefined ? { serial: r.serial } : {}), ...(r.reason ? { reason: r.reason } : {}) };
    }
    for (const row of applied.rows) tierOf(row.box, row.tier).appliedSerial = num(row.serial);
    const byBox = new Map<string, TierFacts[]>();
    for (const [key, facts] of tiers) {
      const [box, tier] = key.split('\u0000') as [string, Tier];
      const list = byBox.get(box) ?? [];
      list.push({ tier, ...facts });
      byBox.set(box, list);
    }
    return boxes.rows.map((row) => ({ box: row.box, enrolledAt: row.enrolled_at.toISOString(), lastContactAt: iso(row.last_contact_at), tiers: byBox.get(row.box) ?? [] }));
  }
}

/** PostgreSQL refuses a NUL character in text: that is bad input, not a hub failure. */
function translate(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === '22021' || code === '22P05') return new HubRefusal(400, 'EBAD_REQUEST', 'the request holds a character the hub cannot store (NUL)');
  return error;
}
