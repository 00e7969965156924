// `npm start` itself, as a newcomer runs it (scripts/start.ts in a child process, its state in a
// folder of its own, the test PostgreSQL as DATABASE_URL): it serves the edge, the web client and
// the VAPID key; the relay it supervises gets the environment (NODE_EXTRA_CA_CERTS, the Web Push
// allow-list, the generated VAPID pair) and delivers to a browser's push service (the checking
// stand-in); killed by PID, the relay comes back and the room's outbox catches it up; Ctrl-C stops
// every process it started.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { call, closeDb, register, type TestUser } from "../test/support/api.js";
import { edgeAt, type EdgeLike } from "../test/support/miniflare.js";
import { freePort } from "../test/support/ports.js";
import { testTls } from "../test/support/push-standins/tls.js";
import { WebPushStandIn } from "../test/support/push-standins/webpush.js";
import { eventually, openStream } from "../test/support/sockets.js";

const root = path.resolve(import.meta.dirname, "..");
let dir: string;
let child: ChildProcess;
let exited: Promise<number | null>;
const lines: string[] = [];
let browsers: WebPushStandIn;
let edge: EdgeLike;
let ports: { edge: number; sink: number; relay: number };

/** the relay's current pid, from the supervisor's own lines ("relay started (pid N)", "relay restarted (pid N)") */
function relayPid(): number | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /\brelay (?:re)?started \(pid (\d+)\)/.exec(lines[i]!);
    if (m) return Number(m[1]);
  }
  return undefined;
}

async function listening(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  const tls = await testTls();
  browsers = await WebPushStandIn.start(tls);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "npm-start-"));
  const caFile = path.join(dir, "stand-ins-ca.pem");
  fs.writeFileSync(caFile, tls.ca);
  ports = { edge: await freePort(), sink: await freePort(), relay: await freePort() };
  child = spawn(process.execPath, ["--import", "tsx", path.join(root, "scripts/start.ts")], {
    cwd: root,
    env: {
      ...process.env,
      START_DATA_DIR: path.join(dir, "data"),
      DATABASE_URL: inject("databaseUrl"),
      PORT: String(ports.edge),
      SINK_PORT: String(ports.sink),
      PUSH_RELAY_PORT: String(ports.relay),
      WEBPUSH_ALLOW_ORIGINS: browsers.origin,
      NODE_EXTRA_CA_CERTS: caFile,
      // a person types quickly, not a test: the request limits a deployment keeps stay as they are
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout!, child.stderr!])
    readline.createInterface({ input: stream }).on("line", (l) => lines.push(l));
  exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = await Promise.race([
    eventually(async () => lines.some((l) => l.includes("edge-chat is running")), 150_000, 100),
    exited.then((code) => {
      throw new Error(`npm start exited (${code}) before it was ready:\n${lines.slice(-30).join("\n")}`);
    }),
  ]);
  expect(ready).toBe(true);
  edge = edgeAt(`http://127.0.0.1:${ports.edge}`);
}, 180_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  await browsers?.close();
  await closeDb();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("npm start", () => {
  it("serves the edge's health, the web client and the VAPID key it generated", async () => {
    expect((await edge.fetch("/v1/healthz")).status).toBe(200);
    const page = await edge.fetch("/some/app/path");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<html");
    const { key } = (await (await edge.fetch("/v1/push/vapid-public-key")).json()) as { key: string };
    const secrets = JSON.parse(fs.readFileSync(path.join(dir, "data", "dev-secrets.json"), "utf8"));
    expect(key).toBe(secrets.VAPID_PUBLIC_KEY);
    // its state stays in the folder it was given
    expect(fs.existsSync(path.join(dir, "data", "edge.env"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "data", "archive.sqlite"))).toBe(true);
  });

  it("pushes to an offline member's browser, and a relay killed by PID comes back and catches up", async () => {
    const [alice, bob] = (await Promise.all([register(edge), register(edge)])) as [TestUser, TestUser];
    const { key } = (await (await edge.fetch("/v1/push/vapid-public-key")).json()) as { key: string };
    const sub = browsers.subscribe({ applicationServerKey: key });
    // an endpoint off the allow-list npm start passed on is refused at registration
    const elsewhere = await call(edge, "POST", "/v1/devices", {
      token: alice.token,
      body: { endpoint: "https://push.example.com/x", expirationTime: null, keys: sub.keys },
    });
    expect(elsewhere.status).toBe(400);
    const reg = await call(edge, "POST", "/v1/devices", {
      token: alice.token,
      body: { endpoint: sub.endpoint, expirationTime: null, keys: sub.keys },
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const room = await call(edge, "POST", "/v1/rooms", {
      token: bob.token,
      body: { type: "group", name: "npm start", member_ids: [alice.id] },
    });
    expect(room.status, JSON.stringify(room.body)).toBe(201);
    const roomId = room.body.room.id as string;
    const stream = await openStream(edge, bob, roomId);
    const send = async (body: string) => {
      const id = crypto.randomUUID();
      stream.send({ type: "send", id, room_id: roomId, client_message_id: id, body });
      return stream.take((f) => f.type === "ack" && f.client_message_id === id);
    };

    const first = await send("hello while you are away");
    // the stand-in checked the VAPID signature against the key and decrypted the payload as a browser would
    const pushed = (seq: number) =>
      browsers
        .recordsFor(sub.endpoint)
        .some((r) => r.status === 201 && (JSON.parse(r.plaintext) as { seq: number }).seq === seq);
    await eventually(async () => pushed(first.seq), 30_000, 100);

    const before = relayPid()!;
    expect(before).toBeGreaterThan(0);
    process.kill(before, "SIGKILL");
    await eventually(async () => lines.some((l) => l.includes(`relay (pid ${before}) killed by SIGKILL`)), 10_000);
    const second = await send("and again while the relay is down");
    await eventually(async () => (relayPid() !== before ? relayPid() : undefined), 30_000, 100);
    // the room retries with a backoff of up to PUSH_RETRY_MAX_SECONDS (60): on a loaded machine
    // the relay's restart (tsx compiling it again) can take several of its steps
    await eventually(async () => pushed(second.seq), 90_000, 100);
    await stream.close();
  }, 200_000);

  it("stops every process it started on SIGTERM", async () => {
    const pids = [
      relayPid()!,
      ...lines.flatMap((l) => [...(/\bsink (?:re)?started \(pid (\d+)\)/.exec(l)?.slice(1) ?? [])]).map(Number),
    ];
    child.kill("SIGTERM");
    expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 30_000))])).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} still runs`).toThrow();
    for (const port of Object.values(ports)) expect(await listening(port), `port ${port} still served`).toBe(false);
  });
});
