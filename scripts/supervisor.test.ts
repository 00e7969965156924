// A real child process (a tiny node server) under the supervisor: killed by PID, restarted with
// a new PID and healthy again; quick deaths wait longer each time; stop() ends it for good.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort } from "../test/support/ports.js";
import { DEFAULT_BACKOFF, Supervisor, nextDelay, type ChildExit, type ChildSpec } from "./supervisor.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "supervisor-"));
const script = path.join(dir, "child.mjs");
// PORT: serve {pid} there; LIFE_MS: exit with code 3 after that long; IGNORE_TERM: survive SIGTERM
fs.writeFileSync(
  script,
  `import http from "node:http";
const port = Number(process.env.PORT || 0);
if (process.env.IGNORE_TERM) process.on("SIGTERM", () => console.log("ignoring SIGTERM"));
else process.on("SIGTERM", () => { console.log("SIGTERM: bye"); process.exit(0); });
if (port) http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid }))).listen(port, "127.0.0.1", () => console.log("listening on " + port));
if (process.env.LIFE_MS) setTimeout(() => process.exit(3), Number(process.env.LIFE_MS));
`,
);

const running: Supervisor[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function supervise(env: Record<string, string>, opts: Partial<ChildSpec> = {}) {
  const logs: string[] = [];
  const output: string[] = [];
  const exits: ChildExit[] = [];
  const starts: Array<{ pid: number; at: number }> = [];
  const sup = new Supervisor({
    name: "svc",
    command: process.execPath,
    args: [script],
    env: { PATH: process.env.PATH, ...env },
    log: (l) => logs.push(l),
    output: (l) => output.push(l),
    ...opts,
  });
  sup.on("start", (pid) => starts.push({ pid, at: Date.now() }));
  sup.on("exit", (e) => exits.push(e));
  running.push(sup);
  return { sup, logs, output, exits, starts };
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe("ESRCH");
    return false;
  }
};

async function until(what: string, check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("Supervisor", () => {
  it("restarts a child killed by its PID: a new PID, healthy again", async () => {
    const port = await freePort();
    const health = `http://127.0.0.1:${port}/healthz`;
    const { sup, logs, output, exits } = supervise(
      { PORT: String(port) },
      { healthUrl: health, backoff: { initialMs: 100 } },
    );
    await sup.waitHealthy(10_000);
    const first = sup.pid!;
    expect(await (await fetch(health)).json()).toEqual({ pid: first });

    const restarted = once(sup, "start");
    process.kill(first, "SIGKILL");
    const [second] = (await restarted) as [number];
    expect(second).not.toBe(first);
    expect(isAlive(first)).toBe(false);
    await sup.waitHealthy(10_000);
    expect(await (await fetch(health)).json()).toEqual({ pid: second });
    expect(sup.pid).toBe(second);
    expect(exits).toEqual([
      { pid: first, code: null, signal: "SIGKILL", uptimeMs: expect.any(Number), restartInMs: 100 },
    ]);
    expect(logs).toContain(`svc started (pid ${first})`);
    expect(
      logs.some((l) => l.startsWith(`svc (pid ${first}) killed by SIGKILL after`) && l.endsWith("restarting in 0.1 s")),
    ).toBe(true);
    expect(logs).toContain(`svc restarted (pid ${second})`);
    expect(output.filter((l) => l === `listening on ${port}`)).toHaveLength(2);
    expect(sup.starts).toBe(2);
  });

  it("waits twice as long after each quick death, up to the cap", async () => {
    const backoff = { initialMs: 50, maxMs: 300, resetAfterMs: 10_000 };
    const { exits, starts } = supervise({ LIFE_MS: "0" }, { backoff });
    await until("six exits", () => exits.length >= 6);
    expect(exits.slice(0, 6).map((e) => e.restartInMs)).toEqual([50, 100, 200, 300, 300, 300]);
    expect(exits.every((e) => e.code === 3 && e.signal === null)).toBe(true);
    // each restart really waited: the gap between starts is at least the wait
    for (let i = 1; i < 6; i++)
      expect(starts[i]!.at - starts[i - 1]!.at).toBeGreaterThanOrEqual(exits[i - 1]!.restartInMs!);
    expect(new Set(starts.map((s) => s.pid)).size).toBe(starts.length);
  });

  it("starts over from the first wait once a child stayed up long enough", async () => {
    const { exits } = supervise({ LIFE_MS: "400" }, { backoff: { initialMs: 50, maxMs: 1000, resetAfterMs: 200 } });
    await until("three exits", () => exits.length >= 3);
    expect(exits.slice(0, 3).map((e) => e.restartInMs)).toEqual([50, 50, 50]);
    expect(exits.every((e) => e.uptimeMs >= 400)).toBe(true);
    // and the rule itself
    expect(nextDelay(null, 0, DEFAULT_BACKOFF)).toBe(500);
    expect(nextDelay(500, 1000, DEFAULT_BACKOFF)).toBe(1000);
    expect(nextDelay(16_000, 1000, DEFAULT_BACKOFF)).toBe(30_000);
    expect(nextDelay(30_000, 1000, DEFAULT_BACKOFF)).toBe(30_000);
    expect(nextDelay(30_000, 60_000, DEFAULT_BACKOFF)).toBe(500);
  });

  it("stops with SIGTERM and never restarts afterwards", async () => {
    const port = await freePort();
    const { sup, exits, output, logs } = supervise(
      { PORT: String(port) },
      { healthUrl: `http://127.0.0.1:${port}/healthz`, backoff: { initialMs: 50 } },
    );
    await sup.waitHealthy(10_000);
    const pid = sup.pid!;
    await sup.stop();
    expect(isAlive(pid)).toBe(false);
    expect(output).toContain("SIGTERM: bye");
    expect(exits).toEqual([{ pid, code: 0, signal: null, uptimeMs: expect.any(Number), restartInMs: null }]);
    expect(logs.at(-1)).toMatch(new RegExp(`^svc \\(pid ${pid}\\) exited with code 0 after [\\d.]+ s$`));
    await new Promise((r) => setTimeout(r, 300));
    expect(sup.starts).toBe(1);
    expect(sup.pid).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it("SIGKILLs a child that ignores SIGTERM once the grace period is over", async () => {
    const port = await freePort();
    const { sup, exits, output } = supervise(
      { PORT: String(port), IGNORE_TERM: "1" },
      { healthUrl: `http://127.0.0.1:${port}/healthz`, stopGraceMs: 300 },
    );
    await sup.waitHealthy(10_000);
    const pid = sup.pid!;
    const began = Date.now();
    await sup.stop();
    expect(Date.now() - began).toBeGreaterThanOrEqual(290);
    expect(output).toContain("ignoring SIGTERM");
    expect(exits).toEqual([{ pid, code: null, signal: "SIGKILL", uptimeMs: expect.any(Number), restartInMs: null }]);
    expect(isAlive(pid)).toBe(false);
  });

  it("retries a program that cannot start, and waitHealthy says why it gave up", async () => {
    const { sup, exits, logs } = supervise(
      {},
      {
        command: path.join(dir, "no-such-program"),
        healthUrl: "http://127.0.0.1:1/healthz",
        backoff: { initialMs: 30 },
      },
    );
    await expect(sup.waitHealthy(400)).rejects.toThrow(
      /svc did not answer http:\/\/127\.0\.0\.1:1\/healthz within 0\.4 s/,
    );
    expect(exits.length).toBeGreaterThanOrEqual(2);
    expect(exits[1]!.restartInMs).toBe(60);
    expect(logs.some((l) => l.includes("failed to start") && l.includes("ENOENT"))).toBe(true);
    expect(sup.starts).toBe(0);
  });
});
