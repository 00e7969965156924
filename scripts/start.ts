// `npm start`: the whole system on one machine with embedded defaults.
//   PostgreSQL  DATABASE_URL if set, else an embedded PostgreSQL under .data/postgres
//   proxy       the WebSocket-to-TCP relay the Neon driver needs for a non-Neon Postgres
//   sink        the cassandra-sink on 127.0.0.1:8790 with its SQLite archive (.data/archive.sqlite),
//               or the Cassandra cluster CASSANDRA_CONTACT_POINTS names (cassandra-sink/README.md)
//   edge        wrangler's dev server (workerd, inspector off) on 127.0.0.1:8787, state under .wrangler/state
// Ctrl-C stops everything it started.
import fs from "node:fs";
import path from "node:path";
import {
  budgetFromEnv,
  canConnect,
  ensureDatabase,
  migrateDatabase,
  startEmbeddedPostgres,
  startWsProxy,
  withDatabase,
  type RunningPostgres,
  type WsProxy,
} from "../db/local/index.js";
import type { unstable_startWorker } from "wrangler";
import { loadOrCreateDevSecrets, toEnvFile } from "./dev-secrets.js";
import { configFromEnv as sinkConfigFromEnv, startSink } from "../cassandra-sink/index.js";

const root = path.resolve(import.meta.dirname, "..");
const dataDir = path.join(root, ".data");
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8787);
const pgPort = Number(process.env.EMBEDDED_PG_PORT ?? 54329);

const log = (what: string, line: string) => console.log(`[${what}] ${line}`);
const cleanups: Array<() => Promise<void> | void> = [];
let stopping = false;

async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  log("start", "stopping…");
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(err);
    }
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

async function postgres(): Promise<{ url: string; server: RunningPostgres }> {
  if (process.env.DATABASE_URL) {
    const url = process.env.DATABASE_URL;
    log("postgres", `using DATABASE_URL (${new URL(url).host})`);
    return { url, server: { adminUrl: url, origin: "configured", stop: async () => {} } };
  }
  const dir = path.join(dataDir, "postgres");
  log("postgres", `starting embedded PostgreSQL on 127.0.0.1:${pgPort} (data in ${path.relative(root, dir)}/)`);
  if (await canConnect(`postgres://postgres@127.0.0.1:${pgPort}/postgres`, 500)) {
    throw new Error(
      `port ${pgPort} already has a PostgreSQL (another npm start?); set EMBEDDED_PG_PORT or DATABASE_URL`,
    );
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const server = await startEmbeddedPostgres(dir, pgPort, (l) => log("postgres", l));
  return { url: withDatabase(server.adminUrl, "chat"), server };
}

// wrangler's dev server, in this process, with its inspector off. The `wrangler dev` command
// always attaches one: it turns every sub-request of the Worker (each PostgreSQL connection, each
// sink call) into devtools events that wrangler's proxy worker relays to this process and logs,
// and the sockets of every client pass through that same proxy. Measured with 100 new rooms at
// 200 msgs/s (bench/realtime.ts --only fresh): send -> peer p99 453-787 ms with the command,
// 195 ms with the inspector off, 138 ms on Miniflare's API. INSPECTOR_PORT turns it back on.
type Worker = Awaited<ReturnType<typeof unstable_startWorker>>;

async function startEdge(envFile: string): Promise<Worker> {
  process.env.WRANGLER_SEND_METRICS = "false";
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.env.WRANGLER_SEND_ERROR_REPORTS = "false";
  // wrangler appends every debug line (each runtime event) to a log file whatever the log level
  // says: keep it with the rest of the local state, not in the home directory
  process.env.WRANGLER_LOG_PATH ??= path.join(dataDir, "logs");
  const { unstable_startWorker: startWorker } = await import("wrangler");
  const inspector = process.env.INSPECTOR_PORT ? { port: Number(process.env.INSPECTOR_PORT) } : (false as const);
  const worker = await startWorker({
    config: path.join(root, "wrangler.toml"),
    envFiles: [envFile],
    dev: {
      server: { hostname: host, port },
      inspector,
      persist: path.join(root, ".wrangler/state"),
      logLevel: "warn",
    },
  });
  await worker.ready;
  return worker;
}

async function waitForHealth(url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

async function main() {
  const started = Date.now();
  const { url: databaseUrl, server } = await postgres();
  cleanups.push(() => server.stop());
  await ensureDatabase(databaseUrl);
  await migrateDatabase(databaseUrl);
  log("postgres", "migrations applied");

  const budget = budgetFromEnv();
  const proxy: WsProxy = await startWsProxy({ budget });
  cleanups.push(() => proxy.close());
  log(
    "proxy",
    `Neon WebSocket proxy on ${proxy.endpoint} (at most ${budget.budget} PostgreSQL connections, ` +
      `+${budget.reserve} for requests waiting over ${budget.reserveAfterMs} ms; more wait)`,
  );

  const secrets = await loadOrCreateDevSecrets(path.join(dataDir, "dev-secrets.json"));

  // the sink's own env rules (README there); the secret is the generated dev one
  const sinkConfig = sinkConfigFromEnv({ ...process.env, SINK_SECRET: secrets.SINK_SECRET }, root);
  const sink = await startSink({ ...sinkConfig, log: (l) => log("sink", l) });
  cleanups.push(() => sink.stop());
  const sinkStore =
    sinkConfig.store.kind === "sqlite"
      ? `SQLite ${path.relative(root, sinkConfig.store.path)}`
      : `Cassandra ${sinkConfig.store.contactPoints.join(",")}`;
  log("sink", `archive sink on ${sink.url} (${sinkStore})`);

  const envFile = path.join(dataDir, "edge.env");
  const overrides = varOverrides();
  if (Object.keys(overrides).length)
    log(
      "edge",
      `settings from the environment: ${Object.entries(overrides)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}`,
    );
  fs.writeFileSync(
    envFile,
    toEnvFile({
      ...overrides,
      DATABASE_URL: databaseUrl,
      NEON_WS_PROXY: proxy.endpoint,
      ...secrets,
      SINK_URL: sink.url,
    }),
    { mode: 0o600 },
  );

  const edge = await startEdge(envFile);
  cleanups.push(() => edge.dispose());
  const base = `http://${host}:${port}`;
  await waitForHealth(`${base}/v1/readyz`, 90_000);

  console.log(`
  edge-chat is running (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)
    edge (HTTP + WebSocket)  ${base}            health: ${base}/v1/healthz
    PostgreSQL               ${new URL(databaseUrl).host}${server.origin === "embedded" ? " (embedded, .data/postgres)" : ""}
    Neon WebSocket proxy     ws://${proxy.endpoint}
    archive sink             ${sink.url}   health: ${sink.url}/healthz  (${sinkStore})
  Press Ctrl-C to stop.
`);
}

main().catch(async (err) => {
  console.error(`[start] ${err instanceof Error ? err.message : err}`);
  await stopAll(1);
});

/** Any wrangler.toml [vars] setting given in the environment (e.g. SEND_RATE_PER_SECOND=2000 npm start) wins over the file. */
function varOverrides(): Record<string, string> {
  const toml = fs.readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const section = /^\[vars\]\s*$([\s\S]*?)^\[/m.exec(toml)?.[1] ?? "";
  const names = [...section.matchAll(/^([A-Z][A-Z0-9_]*)\s*=/gm)].map((m) => m[1]!);
  return Object.fromEntries(names.flatMap((n) => (process.env[n] ? [[n, process.env[n]!]] : [])));
}
