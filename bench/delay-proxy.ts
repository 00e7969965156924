// A TCP proxy that holds every chunk for `delayMs` in each direction, in order: a database
// "far away" (delayMs 50 = a 100 ms round trip) on this machine, since the kernel here has no
// netem. Benchmarks put it between the local Neon proxy and PostgreSQL.
//   npx tsx bench/delay-proxy.ts --listen 18201 --target 127.0.0.1:5432 --delay-ms 50
import net from "node:net";
import { parseArgs } from "node:util";

export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

/** Writes chunks to `out` `delayMs` after they arrived, never reordering them. */
function delayedPipe(from: net.Socket, out: net.Socket, delayMs: number) {
  const queue: Array<{ due: number; chunk: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0]!.due <= now) out.write(queue.shift()!.chunk);
    if (queue.length) timer = setTimeout(flush, queue[0]!.due - now);
    else if (from.readableEnded) out.end();
  };
  from.on("data", (chunk: Buffer) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    timer ??= setTimeout(flush, delayMs);
  });
  from.on("end", () => {
    if (!queue.length && !timer) out.end();
  });
}

export function startDelayProxy(opts: {
  port: number;
  targetHost: string;
  targetPort: number;
  delayMs: number;
}): Promise<DelayProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(opts.targetPort, opts.targetHost);
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    delayedPipe(client, upstream, opts.delayMs);
    delayedPipe(upstream, client, opts.delayMs);
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", destroyBoth);
    upstream.on("error", destroyBoth);
    client.on("close", () => setTimeout(() => upstream.destroy(), opts.delayMs + 10));
    upstream.on("close", () => setTimeout(() => client.destroy(), opts.delayMs + 10));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      listen: { type: "string", default: "18201" },
      target: { type: "string", default: "127.0.0.1:5432" },
      "delay-ms": { type: "string", default: "50" },
    },
  });
  const [host, port] = values.target!.split(":");
  const proxy = await startDelayProxy({
    port: Number(values.listen),
    targetHost: host!,
    targetPort: Number(port),
    delayMs: Number(values["delay-ms"]),
  });
  console.log(`delay proxy 127.0.0.1:${proxy.port} -> ${values.target}, +${values["delay-ms"]} ms each way`);
}
