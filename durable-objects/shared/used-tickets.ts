// A connect ticket opens one socket: the object that accepts it records the ticket's id until
// the ticket expires and refuses it a second time. Both objects keep this table.
export const USED_TICKETS_TABLE = `CREATE TABLE IF NOT EXISTS used_tickets (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID`;

/**
 * Records a ticket's use; false when it was used before. Expired ids go first: a ticket lives
 * 30 s, so the table holds only the last half minute of opens, and nothing of a room or session
 * waits for an alarm (which a room without messages may never set) to forget them.
 */
export function recordTicketUse(sql: SqlStorage, id: string, expiresAt: number, now = Date.now()): boolean {
  sql.exec("DELETE FROM used_tickets WHERE expires_at < ?", now);
  return (
    sql.exec("INSERT INTO used_tickets (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", id, expiresAt)
      .rowsWritten > 0
  );
}
