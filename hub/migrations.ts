/**
 * The PostgreSQL hub's schema, as numbered migrations run in order at start
 * (hub/postgres.ts). A migration, once released, is never edited: the hub records each
 * applied one with its checksum and refuses to start on a database whose history differs, or
 * that a newer hub migrated further. Change the schema by appending a migration.
 *
 * Timestamps are timestamptz; audit entries and reports are kept as `json` (not `jsonb`) so the
 * hub serves back exactly the text a box sent.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE hub_boxes (
  box text PRIMARY KEY,
  key_hash text NOT NULL,
  enrolled_at timestamptz NOT NULL,
  enrolled_by text NOT NULL,
  key_rotated_at timestamptz,
  last_contact_at timestamptz
);

-- Every envelope published, spec or job: the current spec and pending jobs point into it.
CREATE TABLE hub_envelopes (
  id bigserial PRIMARY KEY,
  box text NOT NULL REFERENCES hub_boxes ON DELETE CASCADE,
  tier text NOT NULL,
  type text NOT NULL CHECK (type IN ('spec', 'job')),
  serial bigint NOT NULL,
  digest text NOT NULL,
  payload_digest text NOT NULL,
  envelope text NOT NULL,
  published_at timestamptz NOT NULL,
  published_by text NOT NULL,
  UNIQUE (box, tier, serial)
);

CREATE TABLE hub_streams (
  box text NOT NULL REFERENCES hub_boxes ON DELETE CASCADE,
  tier text NOT NULL,
  last_serial bigint NOT NULL,
  spec_id bigint REFERENCES hub_envelopes,
  PRIMARY KEY (box, tier)
);

CREATE TABLE hub_jobs (
  envelope_id bigint PRIMARY KEY REFERENCES hub_envelopes ON DELETE CASCADE,
  box text NOT NULL,
  tier text NOT NULL,
  payload_digest text NOT NULL,
  finished_at timestamptz
);
CREATE INDEX hub_jobs_pending ON hub_jobs (box, tier, envelope_id) WHERE finished_at IS NULL;

CREATE TABLE hub_reports (
  seq bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE,
  box text NOT NULL REFERENCES hub_boxes ON DELETE CASCADE,
  tier text NOT NULL,
  job_id text NOT NULL,
  outcome text NOT NULL,
  report json NOT NULL,
  received_at timestamptz NOT NULL,
  -- A report sent again (its answer was lost) is the same report, not a second one.
  UNIQUE (box, job_id, outcome)
);
CREATE INDEX hub_reports_box ON hub_reports (box, seq);
CREATE INDEX hub_reports_tier ON hub_reports (box, tier, seq);

CREATE TABLE hub_audit (
  box text NOT NULL REFERENCES hub_boxes ON DELETE CASCADE,
  seq bigint NOT NULL,
  hash text NOT NULL,
  entry json NOT NULL,
  PRIMARY KEY (box, seq)
);

CREATE TABLE hub_operators (
  name text PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);

CREATE TABLE hub_activity (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  operator text NOT NULL,
  action text NOT NULL,
  subject text NOT NULL,
  tier text,
  serial bigint,
  digest text
);
`,
  },
  {
    version: 2,
    name: 'key-escrow',
    sql: `
-- One opaque escrow blob per box (the PBS keyfile wrapped under the customer's recovery code).
CREATE TABLE hub_escrow (
  box text PRIMARY KEY REFERENCES hub_boxes ON DELETE CASCADE,
  escrow json NOT NULL,
  stored_at timestamptz NOT NULL
);

-- Every store, read and delete of a box's escrow, which the box lists into its audit log.
CREATE TABLE hub_escrow_access (
  id bigserial PRIMARY KEY,
  box text NOT NULL REFERENCES hub_boxes ON DELETE CASCADE,
  at timestamptz NOT NULL,
  by_whom text NOT NULL,
  action text NOT NULL CHECK (action IN ('store', 'read', 'delete')),
  fingerprint text
);
CREATE INDEX hub_escrow_access_box ON hub_escrow_access (box, id);
`,
  },
  {
    version: 3,
    name: 'enrollment-codes',
    sql: `
-- One-time enrollment codes (docs/hub-protocol.md "Enrollment"): the code's sha256 only, the
-- signed configuration it unlocks, and the guesses counted against the box.
CREATE TABLE hub_enrollments (
  box text PRIMARY KEY REFERENCES hub_boxes ON DELETE CASCADE,
  code_hash text NOT NULL,
  envelope text NOT NULL,
  issued_at timestamptz NOT NULL,
  issued_by text NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  completed_at timestamptz,
  failures integer NOT NULL DEFAULT 0,
  failure_window_start timestamptz,
  agent_public_key text
);
`,
  },
  {
    version: 4,
    name: 'guest-credentials',
    sql: `
-- The in-guest controllers' hub credentials (sha256 only): each opens its box's guest tier only.
CREATE TABLE hub_guest_credentials (
  box text NOT NULL REFERENCES hub_boxes ON DELETE CASCADE,
  guest text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  registered_at timestamptz NOT NULL,
  PRIMARY KEY (box, guest)
);
`,
  },
];
