// Revoked tokens, in DATA/identity.db: by jti, or every token an agent took part in that was
// issued before the revocation. Read at every verification, so a revocation made by another
// process (the CLI beside a running server) applies to the next decision, and survives restarts.

import type Database from 'better-sqlite3';
import { openStore } from '../storage/sqlite.js';

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
    this.jtiStmt = this.db.prepare('SELECT 1 FROM revoked_tokens WHERE jti = ?');
    this.agentStmt = this.db
      .prepare('SELECT agent FROM revoked_agents WHERE agent = ? AND at >= ?')
      .pluck();
  }

  revokeToken(jti: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO revoked_tokens (jti, at) VALUES (?, ?)')
      .run(jti, Date.now());
  }

  /** Revokes every token issued up to now in whose chain the agent appears. */
  revokeAgent(agent: string): void {
    this.db
      .prepare(
        'INSERT INTO revoked_agents (agent, at) VALUES (?, ?) ON CONFLICT(agent) DO UPDATE SET at = excluded.at',
      )
      .run(agent, Date.now());
  }

  /** Why the token is revoked, or undefined. `issuedAt` in ms. */
  check(jti: string, chain: string[], issuedAt: number): string | undefined {
    if (this.jtiStmt.get(jti)) return `token ${jti} was revoked`;
    for (const agent of chain) {
      if (this.agentStmt.get(agent, issuedAt)) return `tokens of agent "${agent}" were revoked`;
    }
    return undefined;
  }

  close(): void {
    this.db.close();
  }
}
