import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { webBundleIsFresh, webInputsHash } from "./web-bundle.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A checkout with the inputs of the web bundle: the app, the SDK, the protocol, the lockfile. */
function checkout(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "web-bundle-"));
  dirs.push(dir);
  const files: Record<string, string> = {
    "web/index.html": "<div id=app></div>",
    "web/src/main.tsx": "render()",
    "client/index.ts": "export {}",
    "protocol/frames.ts": "export const A = 1",
    "package-lock.json": "{}",
  };
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

const write = (dir: string, f: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
  fs.writeFileSync(path.join(dir, f), text);
};

describe("the web bundle's inputs", () => {
  it("change the hash when the app, the SDK, the protocol or the lockfile changes", () => {
    const dir = checkout();
    const seen = new Set([webInputsHash(dir)]);
    for (const f of ["web/src/main.tsx", "client/index.ts", "protocol/frames.ts", "package-lock.json"]) {
      write(dir, f, `changed ${f}`);
      seen.add(webInputsHash(dir));
    }
    write(dir, "web/src/new-view.tsx", "x");
    seen.add(webInputsHash(dir));
    expect(seen.size).toBe(6);
  });

  it("leave the hash alone for the build's output, tests, the browser tests and dot files", () => {
    const dir = checkout();
    const before = webInputsHash(dir);
    write(dir, "web/dist/index.html", "built");
    write(dir, "web/src/lib/a.test.ts", "test");
    write(dir, "web/e2e/person.ts", "driver");
    write(dir, "web/.dist-inputs.sha256", "stamp");
    expect(webInputsHash(dir)).toBe(before);
  });

  it("call a bundle fresh only when it exists and its stamp is the current hash", () => {
    const dir = checkout();
    expect(webBundleIsFresh(dir)).toBe(false);
    write(dir, "web/dist/index.html", "built");
    expect(webBundleIsFresh(dir)).toBe(false);
    write(dir, "web/.dist-inputs.sha256", webInputsHash(dir) + "\n");
    expect(webBundleIsFresh(dir)).toBe(true);
    write(dir, "protocol/frames.ts", "export const A = 2");
    expect(webBundleIsFresh(dir)).toBe(false);
  });
});
