// The Worker and its Durable Objects in a real workerd through Miniflare's API: wrangler.toml's
// bindings, the bundle `wrangler deploy` would upload, and what the caller adds. Tests and
// benchmarks both start their edges here, so they run the same thing; each passes only what
// differs (secrets, overrides, a port, a storage directory).
import { spawnSync } from "node:child_process";
import path from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { ensureWebBundle } from "../../scripts/web-bundle.js";

const root = path.resolve(import.meta.dirname, "../..");

/** What a client needs of an edge: where it is, and a fetch relative to it (any running edge has it). */
export interface EdgeLike {
  url: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** An edge somebody else started (npm start), reached over HTTP. */
export function edgeAt(url: string): EdgeLike {
  return { url, fetch: (p, init) => fetch(new URL(p, url), init) };
}

export interface Edge extends EdgeLike {
  url: string;
  mf: Miniflare;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface EdgeOptions {
  /** the entry script that bundleWorker() wrote */
  script: string;
  /** over wrangler.toml's [vars]: the secrets a deployment would set, and any overrides */
  bindings: Record<string, string>;
  /** a directory for Durable Object storage, so a second edge over it sees the same state */
  persist?: string;
  /** unset: any free port */
  port?: number;
  /** receives workerd's output (the Worker's and the objects' console), instead of this process's stdout */
  onOutput?: (text: string) => void;
}

/**
 * Bundles the Worker into `outdir` exactly as `wrangler deploy` would; returns the entry script.
 * The web client's bundle (wrangler.toml [assets]) comes first: wrangler refuses an assets
 * directory that is not there, and every edge started from the bundle serves it.
 */
export function bundleWorker(outdir: string): string {
  ensureWebBundle((line) => console.log(`[test] ${line}`));
  const build = spawnSync(
    process.execPath,
    [path.join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir],
    {
      cwd: root,
      encoding: "utf8",
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_SEND_ERROR_REPORTS: "false",
      },
    },
  );
  if (build.status !== 0) throw new Error(`bundling the Worker failed:\n${build.stdout}\n${build.stderr}`);
  return path.join(outdir, "index.js");
}

export async function startEdge(o: EdgeOptions): Promise<Edge> {
  // wrangler.toml's bindings, and its [assets]: the edge serves the web client (web/dist) as a deployment does
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(root, "wrangler.toml"));
  const mf = new Miniflare({
    ...(workerOptions as object),
    modules: true,
    scriptPath: o.script,
    modulesRoot: path.dirname(o.script),
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.persist ? { durableObjectsPersist: o.persist } : {}),
    // EDGE_DIRECT_PORT=8794 also serves the Worker on that port straight from workerd, without
    // Miniflare's entry worker (which pipes every WebSocket frame once more); benchmarks only
    ...(process.env.EDGE_DIRECT_PORT
      ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: Number(process.env.EDGE_DIRECT_PORT) }] }
      : {}),
    // EDGE_INSPECTOR_PORT=9229 opens V8's inspector on the edge (bench/profile.ts takes CPU profiles through it)
    ...(process.env.EDGE_INSPECTOR_PORT ? { inspectorPort: Number(process.env.EDGE_INSPECTOR_PORT) } : {}),
    // EDGE_LOG=1 shows workerd's own log (console output of the Worker and the objects)
    ...(process.env.EDGE_LOG ? { log: new Log(LogLevel.DEBUG) } : {}),
    ...(o.onOutput
      ? {
          handleRuntimeStdio: (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => {
            for (const s of [stdout, stderr]) s.on("data", (chunk: Buffer) => o.onOutput!(chunk.toString("utf8")));
          },
        }
      : {}),
    bindings: {
      ...((workerOptions as { bindings?: Record<string, unknown> }).bindings ?? {}),
      ...o.bindings,
    },
  } as ConstructorParameters<typeof Miniflare>[0]);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    mf,
    fetch: (p, init) => fetch(url + p, init),
    close: () => mf.dispose(),
  };
}
