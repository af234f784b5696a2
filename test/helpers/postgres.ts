/**
 * A real PostgreSQL server for a test file (bench/postgres.ts: Debian's initdb/pg_ctl on its own
 * port, data and socket directory, as the `postgres` user), stopped and removed at teardown.
 * Each test creates a database of its own. Fails, never skips, when the package is missing.
 */
import type { Test } from 'tap';
import { startLocalPostgres, type LocalPostgres } from '../../bench/postgres.js';

export type TestPostgres = LocalPostgres;

export async function startPostgres(t: Test): Promise<TestPostgres> {
  const postgres = await startLocalPostgres();
  t.teardown(() => postgres.stop());
  return postgres;
}
