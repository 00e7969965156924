// Login and token-verification latency against a running edge (`npm start` first).
//   npx tsx bench/auth-latency.ts [--base http://127.0.0.1:8787] [--n 200]
// Requests are sequential: this measures latency, not throughput.
import os from "node:os";
import { parseArgs } from "node:util";
import { fmt, summary } from "./stats.js";

const { values } = parseArgs({
  options: { base: { type: "string", default: "http://127.0.0.1:8787" }, n: { type: "string", default: "200" } },
});
const base = values.base!;
const n = Number(values.n);

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

const handle = `bench_${Date.now().toString(36)}`;
const password = "benchmark password";
const [, reg] = await timed("/v1/auth/register", json({ handle, password, display_name: "Bench" }));
if (reg.status !== 201) throw new Error(`register: ${reg.status}`);

const logins: number[] = [];
let token = "";
for (let i = 0; i < n; i++) {
  // distinct client addresses: the per-IP failure throttle never applies to successes anyway
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
for (let i = 0; i < n * 5; i++) {
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
console.log(`edge ${base}; ${os.cpus().length} × ${os.cpus()[0]?.model}; node ${process.version}`);
row("POST /v1/auth/login (scrypt + 4 queries)", summary(logins));
row("GET /v1/auth/session (JWT verify only)", summary(verifies));
row("GET /v1/me (JWT verify + 1 query)", summary(me));
