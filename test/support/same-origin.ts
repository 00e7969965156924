// An HTTP server that serves a test's own files under one path and passes everything else (HTTP
// and WebSocket upgrades) to an edge, so a page it serves talks to the edge from the same origin
// (the edge sends no CORS headers: the web client is served by the Worker itself).
import http from "node:http";
import net from "node:net";

export interface SameOrigin {
  url: string;
  /** while on, WebSocket upgrades are refused (503) and open ones are cut: the page cannot stream */
  blockSockets(on: boolean): void;
  close(): Promise<void>;
}

export async function startSameOrigin(
  edgeUrl: string,
  files: Record<string, { type: string; body: string }>,
): Promise<SameOrigin> {
  const edge = new URL(edgeUrl);
  const port = Number(edge.port);
  let blocked = false;
  const upgrades = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (file) {
      res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" });
      return void res.end(file.body);
    }
    const up = http.request(
      { host: edge.hostname, port, method: req.method, path: req.url, headers: { ...req.headers, host: edge.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (blocked) return void socket.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
    const up = net.connect(port, edge.hostname);
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      lines.push(`${name}: ${name.toLowerCase() === "host" ? edge.host : req.rawHeaders[i + 1]}`);
    }
    up.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length) up.write(head);
    socket.pipe(up).pipe(socket);
    upgrades.add(socket);
    const end = () => {
      upgrades.delete(socket);
      socket.destroy();
      up.destroy();
    };
    socket.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    blockSockets(on) {
      blocked = on;
      if (on) for (const s of [...upgrades]) s.destroy();
    },
    async close() {
      for (const s of [...upgrades]) s.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
