// Revoked tokens and agents in DATA/identity.db (synchronous FULL: a revocation survives power
// loss). Every change takes the next sequence number, so a process's cache reads only what
// changed since it last looked (store/cache/revocations.ts decides with it).

import type Database from 'better-sqlite3';
import type { AgentRevocation, RevocationStore } from '../ports.js';
import { dataVersion, openStore } from './db.js';

/** The next sequence number, computed inside the writing statement (one atomic write). */
const NEXT = `(SELECT coalesce(max(s), 0) + 1 FROM (
  SELECT max(seq) AS s FROM revoked_tokens UNION ALL SELECT max(seq) FROM revoked_agents))`;

export class SqliteRevocationStore implements RevocationStore {
  private readonly db: Database.Database;
  private readonly stmts;
  /** See dataVersion: lets the cache read only when another process wrote. */
  readonly version: () => number;

  constructor(dataDir: string) {
    this.db = openStore(dataDir, 'identity.db', {
      synchronous: 'FULL',
      schema: `
      CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS revoked_agents (agent TEXT PRIMARY KEY, at INTEGER NOT NULL);
    `,
    });
    this.migrate();
    const d = this.db;
    this.stmts = {
      revokeToken: d.prepare(
        `INSERT OR IGNORE INTO revoked_tokens (jti, at, seq) VALUES (?, ?, ${NEXT})`,
      ),
      revokeAgent: d.prepare(
        `INSERT INTO revoked_agents (agent, at, lifted, seq) VALUES (?, ?, NULL, ${NEXT})
         ON CONFLICT(agent) DO UPDATE SET at = excluded.at, lifted = NULL, seq = excluded.seq`,
      ),
      reinstate: d.prepare(
        `UPDATE revoked_agents SET lifted = ?, seq = ${NEXT} WHERE agent = ? AND lifted IS NULL`,
      ),
      tokens: d.prepare('SELECT jti, seq FROM revoked_tokens WHERE seq > ?'),
      agents: d.prepare('SELECT agent, at, lifted, seq FROM revoked_agents WHERE seq > ?'),
    };
    this.version = dataVersion(d);
  }

  /**
   * Stores from before revocations could be lifted (no `lifted`: every revocation in them is in
   * force) or had sequence numbers (each old row gets one). In one write transaction, so two
   * processes opening an old store together do not both alter it.
   */
  private migrate(): void {
    const columns = (table: string) =>
      (this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map(
        (c) => c.name,
      );
    const current = () =>
      columns('revoked_agents').includes('lifted') &&
      columns('revoked_agents').includes('seq') &&
      columns('revoked_tokens').includes('seq') &&
      this.db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'revoked_agents_seq'")
        .get() !== undefined;
    // Most opens find the store current and take no write lock (the CLI beside a busy server).
    if (current()) return;
    this.db
      .transaction(() => {
        if (!columns('revoked_agents').includes('lifted'))
          this.db.exec('ALTER TABLE revoked_agents ADD COLUMN lifted INTEGER');
        if (!columns('revoked_tokens').includes('seq'))
          this.db.exec(`ALTER TABLE revoked_tokens ADD COLUMN seq INTEGER;
            UPDATE revoked_tokens SET seq = rowid;`);
        if (!columns('revoked_agents').includes('seq'))
          this.db.exec(`ALTER TABLE revoked_agents ADD COLUMN seq INTEGER;
            UPDATE revoked_agents SET seq = rowid + (SELECT coalesce(max(seq), 0) FROM revoked_tokens);`);
        this.db.exec(`CREATE INDEX IF NOT EXISTS revoked_tokens_seq ON revoked_tokens(seq);
          CREATE INDEX IF NOT EXISTS revoked_agents_seq ON revoked_agents(seq);`);
      })
      .immediate();
  }

  async revokeToken(jti: string, at: Date): Promise<void> {
    this.stmts.revokeToken.run(jti, at.getTime());
  }

  async revokeAgent(agent: string, at: Date): Promise<void> {
    this.stmts.revokeAgent.run(agent, at.getTime());
  }

  async reinstateAgent(agent: string, at: Date): Promise<boolean> {
    return this.stmts.reinstate.run(at.getTime(), agent).changes > 0;
  }

  /** What changed after `after`, read now (the cache's synchronous refresh). */
  changesNow(after: number): { tokens: string[]; agents: AgentRevocation[]; cursor: number } {
    let cursor = after;
    const tokens = (this.stmts.tokens.all(after) as { jti: string; seq: number }[]).map((r) => {
      cursor = Math.max(cursor, r.seq);
      return r.jti;
    });
    const rows = this.stmts.agents.all(after) as {
      agent: string;
      at: number;
      lifted: number | null;
      seq: number;
    }[];
    const agents = rows.map((r): AgentRevocation => {
      cursor = Math.max(cursor, r.seq);
      return r.lifted === null
        ? { agent: r.agent, at: r.at }
        : { agent: r.agent, at: r.at, lifted: r.lifted };
    });
    return { tokens, agents, cursor };
  }

  async changes(after: number) {
    return this.changesNow(after);
  }

  close(): void {
    this.db.close();
  }
}
