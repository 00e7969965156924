// Headless Chromium (Debian's `chromium`) driven over the DevTools protocol with `ws`: enough to
// open a page and evaluate scripts in it, for tests that need a real browser (IndexedDB, the
// browser's own fetch and WebSocket) without a browser-automation package.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface Page {
  /** loads `url` and waits for its load event */
  goto(url: string): Promise<void>;
  /** evaluates an expression (awaited if it is a promise) and returns its JSON value */
  evaluate<T = unknown>(expression: string): Promise<T>;
}

export interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "cdp-chromium-"));
  const child: ChildProcess = spawn(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    { stdio: "ignore" },
  );
  const portFile = path.join(profile, "DevToolsActivePort");
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(portFile) || fs.readFileSync(portFile, "utf8").split("\n").length < 2) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error("chromium did not start its DevTools endpoint");
    await new Promise((r) => setTimeout(r, 50));
  }
  const [port, wsPath] = fs.readFileSync(portFile, "utf8").trim().split("\n");
  const ws = new WebSocket(`ws://127.0.0.1:${port}${wsPath}`);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let nextId = 0;
  const pending = new Map<number, { resolve(v: any): void; reject(e: Error): void }>();
  const listeners = new Set<(msg: { method: string; params: any; sessionId?: string }) => void>();
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(`${msg.error.message} (${msg.error.code})`));
      else p?.resolve(msg.result);
    } else for (const l of listeners) l(msg);
  });
  const send = (method: string, params: object = {}, sessionId?: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });

  return {
    async newPage() {
      const { targetId } = await send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
      await send("Page.enable", {}, sessionId);
      return {
        async goto(url) {
          const loaded = new Promise<void>((resolve) => {
            const l = (m: { method: string; sessionId?: string }) => {
              if (m.method === "Page.loadEventFired" && m.sessionId === sessionId) {
                listeners.delete(l);
                resolve();
              }
            };
            listeners.add(l);
          });
          await send("Page.navigate", { url }, sessionId);
          await loaded;
        },
        async evaluate<T>(expression: string) {
          const res = await send(
            "Runtime.evaluate",
            { expression, awaitPromise: true, returnByValue: true },
            sessionId,
          );
          if (res.exceptionDetails) {
            const d = res.exceptionDetails;
            throw new Error(`in the page: ${d.exception?.description ?? d.text}`);
          }
          return res.result.value as T;
        },
      };
    },
    async close() {
      ws.close();
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
      // its helper processes may still write for a moment after the main one exits
      fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
