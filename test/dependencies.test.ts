// Dependencies point one way: the Worker may use the objects, both use lib/, db/ and protocol/,
// and nothing in production reaches into tests, benches or another folder's internals. This test
// reads every import and fails on the first that breaks the direction.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const PRODUCTION = ["workers", "durable-objects", "db", "lib", "protocol", "cassandra-sink", "push-relay"];
const ALL = [...PRODUCTION, "client", "scripts", "test", "bench"];

interface Import {
  from: string; // repo-relative file
  to: string; // repo-relative target (relative imports only)
}

function filesUnder(dir: string, extensions = [".ts"]): string[] {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs, { recursive: true, encoding: "utf8" }).flatMap((f) => {
    const rel = path.join(dir, f);
    const source = extensions.some((e) => rel.endsWith(e));
    return source && !rel.includes("node_modules") && !rel.includes("migrations") ? [rel] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(path.join(root, file), "utf8");
  const out: Import[] = [];
  for (const m of text.matchAll(
    /(?:import|export)[^"'`;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
  )) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith(".")) {
      if (spec === "vitest") out.push({ from: file, to: "vitest" });
      continue;
    }
    out.push({ from: file, to: path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, ".ts") });
  }
  return out;
}

const top = (p: string) => p.split(path.sep)[0]!;
const isTest = (f: string) => f.endsWith(".test.ts") || top(f) === "test";
const imports = ALL.flatMap((d) => filesUnder(d)).flatMap(importsOf);

function violations(rule: (i: Import) => boolean): string[] {
  return imports.filter(rule).map((i) => `${i.from} -> ${i.to}`);
}

describe("dependency direction", () => {
  it("finds the imports it checks", () => {
    expect(imports.length).toBeGreaterThan(200);
    expect(imports.some((i) => i.from.startsWith("durable-objects") && i.to === "db/index.ts")).toBe(true);
  });

  it("keeps the objects out of the Worker: nothing under durable-objects/ imports from workers/", () => {
    expect(violations((i) => top(i.from) === "durable-objects" && top(i.to) === "workers")).toEqual([]);
  });

  it("keeps the libraries at the bottom: protocol/ and lib/ import nothing of the deployables", () => {
    const deployables = ["workers", "durable-objects", "db", "cassandra-sink", "push-relay"];
    expect(violations((i) => ["protocol", "lib"].includes(top(i.from)) && deployables.includes(top(i.to)))).toEqual([]);
  });

  it("enters db/ only through db/index.ts (and Node tooling through db/local/index.ts)", () => {
    const entries = ["db/index.ts", "db/local/index.ts"];
    expect(violations((i) => top(i.from) !== "db" && top(i.to) === "db" && !entries.includes(i.to))).toEqual([]);
    expect(
      violations(
        (i) =>
          PRODUCTION.includes(top(i.from)) && !isTest(i.from) && top(i.from) !== "db" && i.to === "db/local/index.ts",
      ),
    ).toEqual([]);
  });

  it("keeps the SDK portable: client/ imports only protocol/, its own files and zod (Node only in node-storage.ts and tests)", () => {
    const bare: string[] = [];
    for (const file of filesUnder("client")) {
      if (isTest(file) || file === path.join("client", "node-storage.ts")) continue;
      const text = fs.readFileSync(path.join(root, file), "utf8");
      for (const m of text.matchAll(
        /(?:import|export)[^"'`;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
      )) {
        const spec = m[1] ?? m[2]!;
        if (!spec.startsWith(".") && spec !== "zod") bare.push(`${file} -> ${spec}`);
      }
    }
    expect(bare).toEqual([]);
    expect(
      violations((i) => top(i.from) === "client" && !isTest(i.from) && !["client", "protocol"].includes(top(i.to))),
    ).toEqual([]);
    expect(violations((i) => top(i.from) !== "client" && !isTest(i.from) && top(i.to) === "client")).toEqual([]);
    expect(imports.some((i) => i.from === path.join("client", "index.ts") && i.to === "protocol/index.ts")).toBe(true);
  });

  it("keeps tests and benches out of production code, and fixtures out of production folders", () => {
    expect(
      violations(
        (i) => PRODUCTION.includes(top(i.from)) && !isTest(i.from) && ["test", "bench", "vitest"].includes(top(i.to)),
      ),
    ).toEqual([]);
  });

  it("keeps the web client on the SDK: web/src imports only itself, client/ and protocol/", () => {
    const web = filesUnder("web/src", [".ts", ".tsx"]).flatMap(importsOf);
    expect(web.some((i) => top(i.to) === "client")).toBe(true);
    const allowed = (to: string) => to.startsWith(path.join("web", "src")) || ["client", "protocol"].includes(top(to));
    expect(
      web.filter((i) => !allowed(i.to) && !(isTest(i.from) && i.to === "vitest")).map((i) => `${i.from} -> ${i.to}`),
    ).toEqual([]);
  });
});
