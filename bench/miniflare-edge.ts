// The same Worker and Durable Objects as `npm start`, served by Miniflare's programmatic API
// instead of `wrangler dev`: no wrangler proxy process between the sockets and workerd, so a
// benchmark can tell the runtime's cost from the dev server's. Run `npm start` first (for the
// database and the dev secrets), then:
//   npx tsx bench/miniflare-edge.ts [--port 8788]
//   npx tsx bench/realtime.ts --base http://127.0.0.1:8788
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { bundleWorker, startEdge, type Edge } from "../test/support/miniflare.js";
import { readEdgeEnv } from "./edge-env.js";

const root = path.resolve(import.meta.dirname, "..");

/** `npm start`'s settings (.data/edge.env) on a fixed port; REBUILD=0 reuses the last bundle. */
export async function startBenchEdge(opts: {
  port: number;
  persist?: string;
  vars?: Record<string, string>;
}): Promise<Edge> {
  const bindings = { ...readEdgeEnv(), ...opts.vars };
  const outdir = path.join(root, ".data", "bench-bundle");
  const bundled = path.join(outdir, "index.js");
  const script = fs.existsSync(bundled) && process.env.REBUILD === "0" ? bundled : bundleWorker(outdir);
  return startEdge({ script, bindings, port: opts.port, ...(opts.persist ? { persist: opts.persist } : {}) });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // --var NAME=value (repeatable) overrides one of npm start's settings, e.g. --var ARCHIVE_FLUSH_MS=60000
  // --persist DIR keeps the objects' SQLite there (default: a temporary folder on disk); a tmpfs
  // such as /dev/shm takes the disk's fsync out of the measurement (README: Benchmarks)
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "8788" },
      var: { type: "string", multiple: true, default: [] },
      persist: { type: "string" },
    },
  });
  const vars = Object.fromEntries(
    values.var!.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  const edge = await startBenchEdge({
    port: Number(values.port),
    vars,
    ...(values.persist ? { persist: fs.mkdtempSync(path.join(values.persist, "edge-chat-bench-")) } : {}),
  });
  console.log(`miniflare edge on ${edge.url} (Ctrl-C to stop)`);
  process.on("SIGINT", () => void edge.close().then(() => process.exit(0)));
}
