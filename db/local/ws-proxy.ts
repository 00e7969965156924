// The role Neon's WebSocket proxy plays in production: the Neon driver speaks the Postgres wire
// protocol over a WebSocket, and this relays it to a TCP Postgres. Loopback targets only, so a
// local proxy can never be used to reach anything beyond this machine.
import net from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

export interface WsProxy {
  port: number;
  /** value for the Worker's NEON_WS_PROXY setting: host:port/path, no scheme */
  endpoint: string;
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

export async function startWsProxy(opts: { port?: number; host?: string } = {}): Promise<WsProxy> {
  const host = opts.host ?? "127.0.0.1";
  const wss = new WebSocketServer({ host, port: opts.port ?? 0, perMessageDeflate: false });
  wss.on("connection", (ws: WebSocket, req) => {
    const target = parseTarget(req.url);
    if (!target) {
      ws.close(1008, "address must be a loopback host:port");
      return;
    }
    const tcp = net.connect(target.port, target.host);
    tcp.setNoDelay(true);
    const pending: Buffer[] = [];
    let connected = false;
    tcp.on("connect", () => {
      connected = true;
      for (const chunk of pending) tcp.write(chunk);
      pending.length = 0;
    });
    ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (connected) tcp.write(chunk);
      else pending.push(chunk);
    });
    tcp.on("data", (chunk) => ws.readyState === ws.OPEN && ws.send(chunk));
    // The client's Terminate message is not always followed by a TCP close, so close both sides
    // whenever either one ends.
    const closeBoth = () => {
      tcp.destroy();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
    };
    tcp.on("close", closeBoth);
    tcp.on("error", closeBoth);
    ws.on("close", closeBoth);
    ws.on("error", closeBoth);
  });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const port = (wss.address() as net.AddressInfo).port;
  return {
    port,
    endpoint: `${host}:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}
