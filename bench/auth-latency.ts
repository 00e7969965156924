// Login and token-verification latency.
//   npx tsx bench/auth-latency.ts [--base http://127.0.0.1:8787] [--n 200]
//     against a running edge (`npm start` first);
//   npx tsx bench/auth-latency.ts --pg-delay-ms 50 [--n 50] [--port 18203]
//     starts its own stack with PostgreSQL "far away": a fresh database on 127.0.0.1:5432 behind
//     bench/delay-proxy.ts (50 ms each way = a 100 ms round trip), the local Neon proxy and a
//     Miniflare edge, so each round trip a login makes on its answer's path shows as ~100 ms.
// Requests are sequential: this measures latency, not throughput.
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { migrateDatabase, startWsProxy, withDatabase } from "../db/local/index.js";
import { newSigningJwk } from "../test/support/keys.js";
import { bundleWorker, startEdge } from "../test/support/miniflare.js";
import { startDelayProxy } from "./delay-proxy.js";
import { fmt, summary } from "./stats.js";

const { values } = parseArgs({
  options: {
    base: { type: "string", default: "http://127.0.0.1:8787" },
    n: { type: "string" },
    "pg-delay-ms": { type: "string" },
    "admin-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
    port: { type: "string", default: "18203" },
    // with --pg-delay-ms: scrypt's cost (PASSWORD_SCRYPT_LOG_N); 10 keeps the CPU's share (and its
    // noise on a busy machine) small next to the round trips
    "scrypt-log-n": { type: "string", default: "14" },
  },
});
const delayMs = values["pg-delay-ms"] === undefined ? null : Number(values["pg-delay-ms"]);
const n = Number(values.n ?? (delayMs === null ? 200 : 50));
const root = path.resolve(import.meta.dirname, "..");

/** A stack of our own with `delayMs` added each way between the edge's database driver and PostgreSQL. */
async function startDelayedStack(delay: number, edgePort: number) {
  const adminUrl = values["admin-url"]!;
  const dbName = `bench_login_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await migrateDatabase(withDatabase(adminUrl, dbName));
  const target = new URL(adminUrl);
  const delayed = await startDelayProxy({
    port: edgePort - 2,
    targetHost: target.hostname,
    targetPort: Number(target.port || 5432),
    delayMs: delay,
  });
  const wsProxy = await startWsProxy({ port: edgePort - 1 });
  const farUrl = new URL(withDatabase(adminUrl, dbName));
  farUrl.port = String(delayed.port);
  const edge = await startEdge({
    script: bundleWorker(path.join(root, ".data", "bench-login-bundle")),
    port: edgePort,
    bindings: {
      DATABASE_URL: farUrl.toString(),
      NEON_WS_PROXY: wsProxy.endpoint,
      JWT_PRIVATE_JWK: await newSigningJwk(),
      REFRESH_TOKEN_SECRET: "bench-refresh-secret-0123456789abcdef",
      PASSWORD_SCRYPT_LOG_N: values["scrypt-log-n"]!,
    },
  });
  return {
    url: edge.url,
    close: async () => {
      await edge.close();
      await wsProxy.close();
      await delayed.close();
      await admin.query(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    },
  };
}

const stack = delayMs === null ? null : await startDelayedStack(delayMs, Number(values.port));
const base = stack?.url ?? values.base!;

async function timed(path: string, init: RequestInit): Promise<[number, Response]> {
  const t = performance.now();
  const res = await fetch(base + path, init);
  await res.arrayBuffer();
  return [performance.now() - t, res];
}

const json = (body: unknown, token?: string): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});

try {
  const handle = `bench_${Date.now().toString(36)}`;
  const password = "benchmark password";
  const [, reg] = await timed("/v1/auth/register", json({ handle, password, display_name: "Bench" }));
  if (reg.status !== 201) throw new Error(`register: ${reg.status}`);

  const logins: number[] = [];
  let token = "";
  for (let i = 0; i < n; i++) {
    // successes give their throttle attempt back, so one address can log in as often as it likes
    const [ms, res] = await timed("/v1/auth/login", json({ handle, password }));
    if (res.status !== 200) throw new Error(`login: ${res.status}`);
    logins.push(ms);
    if (i === 0)
      token = (
        (await (await fetch(base + "/v1/auth/login", json({ handle, password }))).json()) as { access_token: string }
      ).access_token;
  }

  const verifies: number[] = [];
  const me: number[] = [];
  for (let i = 0; i < (delayMs === null ? n * 5 : n); i++) {
    const [a, r1] = await timed("/v1/auth/session", { headers: { authorization: `Bearer ${token}` } });
    if (r1.status !== 200) throw new Error(`session: ${r1.status}`);
    verifies.push(a);
    const [b, r2] = await timed("/v1/me", { headers: { authorization: `Bearer ${token}` } });
    if (r2.status !== 200) throw new Error(`me: ${r2.status}`);
    me.push(b);
  }

  const row = (name: string, s: ReturnType<typeof summary>) =>
    console.log(
      `${name.padEnd(44)} n=${String(s.n).padEnd(5)} p50 ${fmt(s.p50).padEnd(10)} p99 ${fmt(s.p99).padEnd(10)} max ${fmt(s.max)}`,
    );
  console.log(
    `edge ${base}; ${os.cpus().length} × ${os.cpus()[0]?.model}; node ${process.version}` +
      (delayMs === null
        ? ""
        : `; PostgreSQL behind a ${delayMs} ms-each-way delay proxy (${2 * delayMs} ms RTT); scrypt logN ${values["scrypt-log-n"]}`),
  );
  row("POST /v1/auth/login (scrypt + queries)", summary(logins));
  row("GET /v1/auth/session (JWT verify only)", summary(verifies));
  row("GET /v1/me (JWT verify + 1 query)", summary(me));
} finally {
  await stack?.close();
}
