// The Durable Object SQL API (ctx.storage.sql) over an in-memory SQLite (better-sqlite3), so
// the objects' stores are unit-tested against a real SQLite without a runtime. Only what the
// stores use: exec() with bindings, toArray(), one(), iteration, rowsWritten, databaseSize.
import Database from "better-sqlite3";

export interface MemorySql extends SqlStorage {
  close(): void;
}

function cursor(rows: Record<string, SqlStorageValue>[], rowsWritten: number) {
  return {
    toArray: () => rows,
    one: () => {
      if (rows.length !== 1) throw new Error(`expected exactly one row, got ${rows.length}`);
      return rows[0]!;
    },
    rowsRead: rows.length,
    rowsWritten,
    [Symbol.iterator]: () => rows[Symbol.iterator](),
  };
}

export function memorySql(): MemorySql {
  const db = new Database(":memory:");
  const sql = {
    exec(query: string, ...bindings: unknown[]) {
      const stmt = db.prepare(query);
      const args = bindings.map((b) => (typeof b === "boolean" ? Number(b) : b));
      if (stmt.reader) return cursor(stmt.all(...args) as Record<string, SqlStorageValue>[], 0);
      return cursor([], stmt.run(...args).changes);
    },
    get databaseSize(): number {
      return (
        (db.pragma("page_count", { simple: true }) as number) * (db.pragma("page_size", { simple: true }) as number)
      );
    },
    close: () => db.close(),
  };
  return sql as unknown as MemorySql;
}
