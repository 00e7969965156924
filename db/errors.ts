// What may be logged of a failed database call. drizzle's DrizzleQueryError puts every bound
// parameter into its message ("params: …"), which on register is the new password hash; and a
// driver's detail line quotes row values ("Key (handle)=(…)"). Logs get the statement's text (its
// placeholders, never the values), the SQLSTATE and the names PostgreSQL reports.

interface PgErrorFields {
  code?: unknown;
  severity?: unknown;
  constraint?: unknown;
  table?: unknown;
  column?: unknown;
  message?: unknown;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

function isQueryError(err: unknown): err is Error & { query: string; params: unknown; cause?: unknown } {
  return err instanceof Error && typeof (err as { query?: unknown }).query === "string" && "params" in err;
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return cause === undefined ? "" : `(${typeof cause})`;
  const pg = cause as PgErrorFields;
  if (typeof pg.code === "string" && SQLSTATE.test(pg.code)) {
    const names = (["constraint", "table", "column"] as const)
      .filter((k) => typeof pg[k] === "string")
      .map((k) => `${k} ${String(pg[k])}`);
    // class 22 (data exceptions) messages quote the offending value: "invalid input syntax …: "x""
    const message = pg.code.startsWith("22") ? "" : `: ${cause.message}`;
    return `SQLSTATE ${pg.code}${names.length ? ` (${names.join(", ")})` : ""}${message}`;
  }
  // a connection or driver failure: its message carries no row data
  return `${cause.name}: ${cause.message}`;
}

/** A loggable line for any error; database errors lose their parameters and quoted values. */
export function describeError(err: unknown): string {
  if (isQueryError(err)) return `database call failed: ${describeCause(err.cause)}; query: ${err.query}`;
  if (err instanceof Error) {
    const pg = err as PgErrorFields;
    if (typeof pg.code === "string" && SQLSTATE.test(pg.code)) return `database call failed: ${describeCause(err)}`;
    return err.stack ?? `${err.name}: ${err.message}`;
  }
  return String(err);
}
