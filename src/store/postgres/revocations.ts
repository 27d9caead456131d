// Revoked delegation tokens and agents in PostgreSQL: a change log read by cursor. Every change
// takes the next value of revocation_seq while holding the schema's revocation lock, so values
// commit in order and a node reading "everything above my cursor" never skips a change that
// committed late. Revocations are rare; serializing their writes costs nothing that matters.

import type { AgentRevocation, RevocationStore } from '../ports.js';
import type { PostgresDb } from './db.js';
import { LOCK } from './migrations.js';

export class PostgresRevocationStore implements RevocationStore {
  constructor(private readonly db: PostgresDb) {}

  /** `sql` runs after the lock is taken; $1, $2 are the lock's, the rest are `params`. */
  private locked(what: string, sql: string, params: unknown[]) {
    return this.db.query(
      what,
      `WITH l AS (SELECT pg_advisory_xact_lock($1, hashtext($2::text))) ${sql}`,
      [LOCK.revocation, this.db.schema, ...params],
    );
  }

  async revokeToken(jti: string, at: Date): Promise<void> {
    await this.locked(
      'revoking a token',
      `INSERT INTO ${this.db.s}.revoked_tokens (jti, at, seq)
       SELECT $3::bytea, $4::bigint, nextval('${this.db.s}.revocation_seq') FROM l
       ON CONFLICT (jti) DO NOTHING`,
      [Buffer.from(jti), at.getTime()],
    );
  }

  async revokeAgent(agent: string, at: Date): Promise<void> {
    await this.locked(
      'revoking an agent',
      `INSERT INTO ${this.db.s}.revoked_agents (agent, at, lifted, seq)
       SELECT $3::bytea, $4::bigint, NULL, nextval('${this.db.s}.revocation_seq') FROM l
       ON CONFLICT (agent) DO UPDATE SET at = excluded.at, lifted = NULL, seq = excluded.seq`,
      [Buffer.from(agent), at.getTime()],
    );
  }

  async reinstateAgent(agent: string, at: Date): Promise<boolean> {
    const r = await this.locked(
      'reinstating an agent',
      `UPDATE ${this.db.s}.revoked_agents SET lifted = $4::bigint,
         seq = nextval('${this.db.s}.revocation_seq')
       FROM l WHERE agent = $3::bytea AND lifted IS NULL`,
      [Buffer.from(agent), at.getTime()],
    );
    return r.rowCount === 1;
  }

  async changes(
    after: number,
  ): Promise<{ tokens: string[]; agents: AgentRevocation[]; cursor: number }> {
    // One statement, one snapshot: tokens and agents as of the same moment.
    const r = await this.db.query<{
      kind: 't' | 'a';
      name: Buffer;
      at: number;
      lifted: number | null;
      seq: number;
    }>(
      'reading revocations',
      `SELECT 't' AS kind, jti AS name, at, NULL::bigint AS lifted, seq
         FROM ${this.db.s}.revoked_tokens WHERE seq > $1
       UNION ALL
       SELECT 'a', agent, at, lifted, seq FROM ${this.db.s}.revoked_agents WHERE seq > $1
       ORDER BY seq`,
      [after],
      true,
    );
    const tokens: string[] = [];
    const agents: AgentRevocation[] = [];
    let cursor = after;
    for (const row of r.rows) {
      cursor = Math.max(cursor, row.seq);
      if (row.kind === 't') tokens.push(row.name.toString());
      else
        agents.push(
          row.lifted === null
            ? { agent: row.name.toString(), at: row.at }
            : { agent: row.name.toString(), at: row.at, lifted: row.lifted },
        );
    }
    return { tokens, agents, cursor };
  }
}
