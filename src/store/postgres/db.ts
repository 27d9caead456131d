// The connection pool every PostgreSQL store shares, and the one place their errors are turned
// into messages an operator can act on. A lost or unreachable server rejects the operation
// (the decision path turns that into a deny); nothing is retried that could apply twice.

import { createHash } from 'node:crypto';
import pg from 'pg';
import { postgresConfig, shownUrl } from './url.js';
import { quoteIdent } from './migrations.js';

export interface PostgresOptions {
  /** The schema holding Cordon's tables (default `cordon`). */
  schema?: string;
  /** Connections in this node's pool (default 10). */
  poolSize?: number;
  /** A query unanswered this long fails (default 5000 ms): a decision does not wait forever. */
  queryTimeoutMs?: number;
  /** Connecting gives up after this long (default 3000 ms). */
  connectTimeoutMs?: number;
}

/** int8 (ids, cursors, epoch milliseconds) as numbers: all stay below 2^53. */
const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** SQLSTATE classes and Node errors that mean the server, not the statement, is the problem. */
function connectionLost(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')
    return true;
  if (
    /^E(CONNREFUSED|CONNRESET|HOSTUNREACH|NETUNREACH|PIPE|TIMEDOUT|AI_AGAIN|NOTFOUND)$/.test(code)
  )
    return true;
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection (?:is )?closed/i.test(
    err.message ?? '',
  );
}

export class PostgresDb {
  readonly pool: pg.Pool;
  /** The quoted schema, for table names: `${db.s}.approvals`. */
  readonly s: string;
  readonly shown: string;
  private readonly names = new Map<string, string>();

  constructor(
    readonly url: string,
    readonly schema: string,
    private readonly opts: PostgresOptions = {},
  ) {
    this.s = quoteIdent(schema);
    this.shown = shownUrl(url);
    this.pool = new pg.Pool({
      ...this.clientConfig(),
      max: opts.poolSize ?? 10,
      idleTimeoutMillis: 30_000,
    });
    // An idle connection the server ends (restart, pg_terminate_backend) is dropped by the
    // pool; without a listener its error would end the process.
    this.pool.on('error', () => {});
  }

  /** Settings for a connection of this node (the pool's, and the notification listener's). */
  get queryTimeoutMs(): number {
    return this.opts.queryTimeoutMs ?? 5000;
  }

  clientConfig(): pg.ClientConfig {
    const opts = this.opts;
    return {
      ...postgresConfig(this.url),
      application_name: `cordon:${this.schema}`,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000,
      query_timeout: this.queryTimeoutMs,
      keepAlive: true,
      types,
    };
  }

  /** What went wrong, as an operator reads it (never the stack). */
  failure(what: string, e: unknown): Error {
    const message = (e as Error)?.message || String(e);
    if (connectionLost(e)) {
      return new Error(`PostgreSQL at ${this.shown} is unreachable (${message}): ${what} failed`, {
        cause: e,
      });
    }
    return new Error(`PostgreSQL: ${what} failed: ${message}`, { cause: e });
  }

  /**
   * Runs one statement. `retry`: the statement may run twice (a read, or a write that changes
   * nothing the second time); it is retried once on a fresh connection when the first one was
   * found dead (a server restart ends every pooled connection at once).
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    what: string,
    sql: string,
    params: unknown[] = [],
    retry = false,
  ): Promise<pg.QueryResult<R>> {
    // Named: each connection parses and plans a statement once, not on every decision.
    let name = this.names.get(sql);
    if (!name) {
      name = `cordon_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
      this.names.set(sql, name);
    }
    const q = { name, text: sql, values: params };
    try {
      return await this.pool.query<R>(q);
    } catch (e) {
      if (!(retry && connectionLost(e))) throw this.failure(what, e);
      try {
        return await this.pool.query<R>(q);
      } catch (e2) {
        throw this.failure(what, e2);
      }
    }
  }

  /**
   * Runs `fn`'s statements in one transaction on one connection: committed when it returns,
   * rolled back when it throws. Never retried (it may have written).
   */
  async transaction<T>(
    what: string,
    fn: (
      q: <R extends pg.QueryResultRow = pg.QueryResultRow>(
        sql: string,
        params?: unknown[],
      ) => Promise<pg.QueryResult<R>>,
    ) => Promise<T>,
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw this.failure(what, e);
    }
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const out = await fn((sql, params = []) => client.query(sql, params));
      await client.query('COMMIT');
      return out;
    } catch (e) {
      broken = e;
      await client.query('ROLLBACK').catch(() => {});
      throw this.failure(what, e);
    } finally {
      // A connection that failed mid-transaction is not given back to the pool for reuse.
      client.release(broken !== undefined && connectionLost(broken));
    }
  }

  /** "ok", or why the server cannot be used now. */
  async health(): Promise<string> {
    try {
      await this.query('health check', 'SELECT 1', [], true);
      return 'ok';
    } catch (e) {
      return `down: ${(e as Error).message}`;
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
