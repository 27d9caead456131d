// Revoked tokens, in DATA/identity.db: by jti (which revokes every token minted from it, since
// tokens carry the jtis they descend from), or by agent. An agent's revocation holds until it
// is lifted (reinstated): until then no token whose chain names the agent verifies, whenever it
// was issued, and no token is minted for it; after, tokens issued before the revocation stay
// revoked. Read at every verification, so a revocation made by another process (the CLI beside
// a running server) applies to the next decision, and survives restarts.

import type Database from 'better-sqlite3';
import { openStore } from '../storage/sqlite.js';

interface AgentRow {
  at: number;
  lifted: number | null;
}

export class RevocationStore {
  private readonly db: Database.Database;
  private readonly jtiStmt: Database.Statement;
  private readonly agentStmt: Database.Statement;

  constructor(dataDir: string) {
    this.db = openStore(dataDir, 'identity.db', {
      synchronous: 'FULL',
      schema: `
      CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS revoked_agents (agent TEXT PRIMARY KEY, at INTEGER NOT NULL);
    `,
    });
    // Stores from before revocations could be lifted: every revocation in them is in force.
    const columns = this.db.prepare('PRAGMA table_info(revoked_agents)').all() as {
      name: string;
    }[];
    if (!columns.some((c) => c.name === 'lifted'))
      this.db.exec('ALTER TABLE revoked_agents ADD COLUMN lifted INTEGER');
    this.jtiStmt = this.db.prepare('SELECT 1 FROM revoked_tokens WHERE jti = ?');
    this.agentStmt = this.db.prepare('SELECT at, lifted FROM revoked_agents WHERE agent = ?');
  }

  revokeToken(jti: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO revoked_tokens (jti, at) VALUES (?, ?)')
      .run(jti, Date.now());
  }

  /** Revokes every token in whose chain the agent appears, until `reinstateAgent`. */
  revokeAgent(agent: string): void {
    this.db
      .prepare(
        'INSERT INTO revoked_agents (agent, at, lifted) VALUES (?, ?, NULL) ON CONFLICT(agent) DO UPDATE SET at = excluded.at, lifted = NULL',
      )
      .run(agent, Date.now());
  }

  /** Lifts an agent's revocation; false when it was not revoked. */
  reinstateAgent(agent: string): boolean {
    return (
      this.db
        .prepare('UPDATE revoked_agents SET lifted = ? WHERE agent = ? AND lifted IS NULL')
        .run(Date.now(), agent).changes > 0
    );
  }

  /** Whether the agent's revocation is in force (nothing may be delegated to it). */
  agentRevoked(agent: string): boolean {
    const row = this.agentStmt.get(agent) as AgentRow | undefined;
    return row !== undefined && row.lifted === null;
  }

  /**
   * Why the token is revoked, or undefined. `lineage`: the jtis it was minted from, root
   * first; `issuedAt` in ms.
   */
  check(
    jti: string,
    chain: string[],
    issuedAt: number,
    lineage: string[] = [],
  ): string | undefined {
    if (this.jtiStmt.get(jti)) return `token ${jti} was revoked`;
    for (const ancestor of lineage)
      if (this.jtiStmt.get(ancestor))
        return `token ${ancestor}, which this token was minted from, was revoked`;
    for (const agent of chain) {
      const row = this.agentStmt.get(agent) as AgentRow | undefined;
      if (!row) continue;
      if (row.lifted === null) return `agent "${agent}" is revoked`;
      if (row.at >= issuedAt)
        return `tokens of agent "${agent}" issued before its revocation were revoked`;
    }
    return undefined;
  }

  close(): void {
    this.db.close();
  }
}
