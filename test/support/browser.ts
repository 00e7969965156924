// A real headless Chromium for the browser tests: Debian's `chromium` package (no browser can be
// downloaded here), installed on first use, started by us with exactly the flags we choose and a
// fresh profile, and driven through playwright-core over the DevTools protocol. Playwright's own
// launch() adds its flags and its own --user-data-dir; starting the process ourselves keeps the
// command line what the tests say it is.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const log = (line: string) => console.log(`[browser] ${line}`);

/**
 * Installs Debian's chromium package when /usr/bin/chromium is missing, and says so. The global
 * setup calls it once before any test file runs: two files installing at once would race (the
 * binary exists while dpkg is still unpacking the rest).
 */
export function ensureChromium(): void {
  if (fs.existsSync(CHROMIUM)) return;
  log(`${CHROMIUM} is missing: installing Debian's chromium package (apt-get install -y chromium)…`);
  const asRoot = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  const run = (args: string[]) => {
    const [cmd, ...rest] = [...asRoot, ...args];
    const res = spawnSync(cmd!, rest, {
      encoding: "utf8",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      timeout: 600_000,
    });
    return { ok: res.status === 0, out: `${res.stdout ?? ""}${res.stderr ?? ""}${res.error ? String(res.error) : ""}` };
  };
  // wait for another dpkg (an unattended upgrade, a second test run) instead of failing on its lock
  const apt = (...args: string[]) => run(["apt-get", "-o", "DPkg::Lock::Timeout=600", ...args]);
  let install = apt("install", "-y", "chromium");
  if (!install.ok) {
    // a machine that never fetched the package lists (or holds old ones) knows no such package yet
    log("apt-get install failed; running apt-get update and trying again");
    apt("update");
    install = apt("install", "-y", "chromium");
  }
  if (!install.ok || !fs.existsSync(CHROMIUM))
    throw new Error(`installing chromium failed:\n${install.out.split("\n").slice(-20).join("\n")}`);
  log(`installed ${chromiumVersion()}`);
}

export function chromiumVersion(): string {
  const res = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" });
  return (res.stdout ?? "").trim() || "unknown";
}

export function playwrightVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("playwright-core/package.json") as { version: string }).version;
}

export interface RunningBrowser {
  browser: Browser;
  /** what the browser reports (e.g. "156.0.8078.114") */
  version: string;
  close(): Promise<void>;
}

/**
 * Starts Chromium with CHROMIUM_FLAGS, a fresh --user-data-dir and a DevTools port of the
 * system's choosing, and connects playwright-core to it. Each test's people get contexts of
 * their own from `browser.newContext()` (separate cookies and storage, like separate profiles).
 */
export async function launchChromium(): Promise<RunningBrowser> {
  ensureChromium();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "edge-chat-chromium-"));
  const proc = spawn(
    CHROMIUM,
    [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank"],
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let stderr = "";
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chromium did not start within 30 s:\n${stderr}`)), 30_000);
    proc.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`chromium exited (${code ?? signal}) before it listened:\n${stderr}`));
    });
    proc.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  }).catch((err) => {
    void stop(proc, 0);
    fs.rmSync(profile, { recursive: true, force: true });
    throw err;
  });
  // keep reading, so a chatty browser never blocks on a full pipe
  proc.stderr!.on("data", () => {});
  const browser = await chromium.connectOverCDP(endpoint);
  return {
    browser,
    version: browser.version(),
    async close() {
      // Browser.close ends it as a person closing it would, its helper processes included; the
      // connection then only has to go
      const session = await browser.newBrowserCDPSession().catch(() => null);
      await session?.send("Browser.close").catch(() => {});
      await browser.close().catch(() => {});
      await stop(proc);
      try {
        fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
      } catch (err) {
        // a helper still writing into it leaves a temporary directory behind, not a failed test
        log(`could not remove ${profile}: ${err instanceof Error ? err.message : err}`);
      }
    },
  };
}

/**
 * Ends the browser we started: it runs in a process group of its own (detached), so its helper
 * processes (zygote, renderers, GPU) go with it. It is given `graceMs` to exit by itself (after
 * Browser.close), then SIGTERM, then SIGKILL.
 */
function stop(proc: ChildProcess, graceMs = 5_000): Promise<void> {
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  if (proc.exitCode !== null || proc.signalCode !== null) {
    group("SIGKILL");
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const wait = setTimeout(() => group("SIGTERM"), graceMs);
    const kill = setTimeout(() => group("SIGKILL"), graceMs + 5_000);
    proc.once("exit", () => {
      clearTimeout(wait);
      clearTimeout(kill);
      // the helpers of a browser that exited on its own
      group("SIGKILL");
      resolve();
    });
  });
}
