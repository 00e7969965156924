// The web client's bundle (web/dist), which wrangler.toml's [assets] names: `wrangler deploy`
// (and its --dry-run) and every edge that serves assets need it to exist. `npm run build:web`
// always builds it; `npm start`, `npm run build`/`deploy` and the test setup call
// ensureWebBundle(), which builds only when the inputs changed since the last build (a SHA-256
// of every input file, kept beside the bundle), so a test run does not pay a build each time and
// never serves an app older than its sources.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
export const WEB_DIST = path.join(root, "web/dist");
const stampOf = (dir: string) => path.join(dir, "web/.dist-inputs.sha256");
const STAMP = stampOf(root);

/** What the bundle is made of: the app, the SDK and the protocol it imports, and the locked tool versions. */
const INPUT_DIRS = ["web", "client", "protocol"];
const INPUT_FILES = ["package-lock.json"];
const SKIP = new Set(["dist", "node_modules", "e2e"]);

function inputFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    if (!fs.existsSync(abs)) return;
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP.has(entry.name) && !entry.name.startsWith(".")) walk(child);
      } else if (entry.isFile() && !entry.name.startsWith(".") && !/\.test\.tsx?$/.test(entry.name)) {
        out.push(child);
      }
    }
  };
  for (const dir of INPUT_DIRS) walk(dir);
  for (const file of INPUT_FILES) if (fs.existsSync(path.join(dir, file))) out.push(file);
  return out.sort();
}

/** One hash over every input's path and content (`dir`: a checkout, this one by default). */
export function webInputsHash(dir = root): string {
  const hash = createHash("sha256");
  for (const file of inputFiles(dir)) {
    hash.update(file.split(path.sep).join("/") + "\0");
    hash.update(fs.readFileSync(path.join(dir, file)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** Whether `dir`'s web/dist was built from its current inputs. */
export function webBundleIsFresh(dir = root): boolean {
  const stamp = stampOf(dir);
  if (!fs.existsSync(path.join(dir, "web/dist/index.html")) || !fs.existsSync(stamp)) return false;
  return fs.readFileSync(stamp, "utf8").trim() === webInputsHash(dir);
}

/**
 * Builds web/dist with Vite. It builds into a directory of its own and then swaps it in, so an
 * edge serving the old bundle (npm start, another test run) never sees a half-written one.
 */
export function buildWebBundle(log: (line: string) => void = () => {}): void {
  if (!fs.existsSync(path.join(root, "client/index.ts")))
    throw new Error("the web client imports the SDK from client/ (client/index.ts), and it is not there");
  const hash = webInputsHash();
  const tmp = path.join(root, "web", `.dist-build-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  const started = Date.now();
  const build = spawnSync(
    process.execPath,
    [
      path.join(root, "node_modules/vite/bin/vite.js"),
      "build",
      "--config",
      path.join(root, "web/vite.config.ts"),
      "--outDir",
      tmp,
      "--emptyOutDir",
      "--logLevel",
      "warn",
    ],
    { cwd: root, encoding: "utf8", env: { ...process.env, NODE_ENV: "production" } },
  );
  if (build.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`building the web client failed:\n${build.stdout}\n${build.stderr}`);
  }
  const old = path.join(root, "web", `.dist-old-${process.pid}`);
  try {
    if (fs.existsSync(WEB_DIST)) fs.renameSync(WEB_DIST, old);
    fs.renameSync(tmp, WEB_DIST);
  } catch (err) {
    // another build (a second test run) swapped its bundle in between our two renames: same inputs, keep it
    if (!fs.existsSync(path.join(WEB_DIST, "index.html"))) throw err;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.rmSync(old, { recursive: true, force: true });
  fs.writeFileSync(STAMP, hash + "\n");
  log(`built the web client into ${path.relative(root, WEB_DIST)}/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Builds web/dist unless it is there and made from the current inputs; returns whether it built. */
export function ensureWebBundle(log: (line: string) => void = () => {}): boolean {
  if (webBundleIsFresh()) return false;
  buildWebBundle(log);
  return true;
}
