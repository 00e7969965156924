// The same Worker and Durable Objects as `npm start`, served by Miniflare's programmatic API
// instead of `wrangler dev`: no wrangler proxy process between the sockets and workerd, so a
// benchmark can tell the runtime's cost from the dev server's. Run `npm start` first (for the
// database and the dev secrets), then:
//   npx tsx bench/miniflare-edge.ts [--port 8788]
//   npx tsx bench/realtime.ts --base http://127.0.0.1:8788
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { readEdgeEnv } from "./edge-env.js";

export { readEdgeEnv };

const root = path.resolve(import.meta.dirname, "..");

export async function startBenchEdge(opts: {
  port: number;
  persist?: string;
  vars?: Record<string, string>;
}): Promise<Miniflare> {
  const outdir = path.join(root, ".data", "bench-bundle");
  if (!fs.existsSync(path.join(outdir, "index.js")) || process.env.REBUILD !== "0") {
    const build = spawnSync(
      process.execPath,
      [path.join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir],
      {
        cwd: root,
        stdio: "ignore",
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: "false",
          CLOUDFLARE_CF_FETCH_ENABLED: "false",
          WRANGLER_SEND_ERROR_REPORTS: "false",
        },
      },
    );
    if (build.status !== 0) throw new Error("bundling failed");
  }
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(root, "wrangler.toml"));
  const mf = new Miniflare({
    ...(workerOptions as object),
    modules: true,
    scriptPath: path.join(outdir, "index.js"),
    modulesRoot: outdir,
    host: "127.0.0.1",
    port: opts.port,
    ...(opts.persist ? { durableObjectsPersist: opts.persist } : {}),
    bindings: {
      ...((workerOptions as { bindings?: Record<string, unknown> }).bindings ?? {}),
      ...readEdgeEnv(),
      ...(opts.vars ?? {}),
    },
  } as ConstructorParameters<typeof Miniflare>[0]);
  await mf.ready;
  return mf;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8788" } } });
  const mf = await startBenchEdge({ port: Number(values.port) });
  console.log(`miniflare edge on http://127.0.0.1:${values.port} (Ctrl-C to stop)`);
  process.on("SIGINT", () => void mf.dispose().then(() => process.exit(0)));
}
