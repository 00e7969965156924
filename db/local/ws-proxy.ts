// The role Neon's WebSocket proxy plays in production: the Neon driver speaks the Postgres wire
// protocol over a WebSocket, and this relays it to a TCP Postgres. Loopback targets only, so a
// local proxy can never be used to reach anything beyond this machine. It holds a connection
// budget (connection-budget.ts): a WebSocket beyond it waits, its bytes buffered, until a
// PostgreSQL connection is free, so a burst of requests queues instead of failing.
import net from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { ConnectionBudget, DEFAULT_BUDGET, type BudgetOptions } from "./connection-budget.js";

export interface WsProxy {
  port: number;
  /** value for the Worker's NEON_WS_PROXY setting: host:port/path, no scheme */
  endpoint: string;
  /** connections held and waiting now, and the most held at once */
  stats(): { held: number; waiting: number; peak: number };
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function parseTarget(url: string | undefined): { host: string; port: number } | null {
  if (!url) return null;
  const address = new URL(url, "http://proxy").searchParams.get("address");
  if (!address) return null;
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  if (!LOOPBACK.has(host) || !Number.isInteger(port) || port <= 0 || port > 65535) return null;
  return { host: host.replace(/^\[|\]$/g, ""), port };
}

export async function startWsProxy(
  opts: { port?: number; host?: string; budget?: BudgetOptions } = {},
): Promise<WsProxy> {
  const host = opts.host ?? "127.0.0.1";
  const budget = new ConnectionBudget(opts.budget ?? DEFAULT_BUDGET);
  let reserveTimer: NodeJS.Timeout | null = null;
  // long waiters reach the reserve only with time passing, not only when a connection ends
  const pumpLater = () => {
    const at = budget.nextReserveAt();
    // a head already past its wait is blocked by the reserve too: the next release admits it
    if (at === null || at <= Date.now() || reserveTimer) return;
    reserveTimer = setTimeout(() => {
      reserveTimer = null;
      budget.pump(Date.now());
      pumpLater();
    }, at - Date.now());
    reserveTimer.unref();
  };
  const wss = new WebSocketServer({ host, port: opts.port ?? 0, perMessageDeflate: false });
  wss.on("connection", (ws: WebSocket, req) => {
    const target = parseTarget(req.url);
    if (!target) {
      ws.close(1008, "address must be a loopback host:port");
      return;
    }
    let tcp: net.Socket | null = null;
    let done = false;
    const pending: Buffer[] = [];
    let connected = false;
    // The client's Terminate message is not always followed by a TCP close, so close both sides
    // whenever either one ends; the slot goes back once.
    const closeBoth = () => {
      if (done) return;
      done = true;
      if (tcp) {
        tcp.destroy();
        budget.release(Date.now());
      } else budget.cancel(waiter);
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
      pumpLater();
    };
    const open = () => {
      const socket = net.connect(target.port, target.host);
      tcp = socket;
      socket.setNoDelay(true);
      socket.on("connect", () => {
        connected = true;
        for (const chunk of pending) socket.write(chunk);
        pending.length = 0;
      });
      socket.on("data", (chunk) => ws.readyState === ws.OPEN && ws.send(chunk));
      socket.on("close", closeBoth);
      socket.on("error", closeBoth);
    };
    const waiter = { since: Date.now(), admit: () => (done ? budget.release(Date.now()) : open()) };
    ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (connected) tcp!.write(chunk);
      else pending.push(chunk);
    });
    ws.on("close", closeBoth);
    ws.on("error", closeBoth);
    budget.request(waiter, Date.now());
    pumpLater();
  });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const port = (wss.address() as net.AddressInfo).port;
  return {
    port,
    endpoint: `${host}:${port}/v1`,
    stats: () => ({ held: budget.held, waiting: budget.waiting, peak: budget.peak }),
    close: () =>
      new Promise<void>((resolve) => {
        if (reserveTimer) clearTimeout(reserveTimer);
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}
