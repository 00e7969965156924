// The settings `npm start` hands its edge (.data/edge.env): benchmarks read the database URL and
// the dev signing key from there, so they can seed users and sign tokens (test/support/tokens.ts)
// as the edge would.
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");

export function readEdgeEnv(file = ".data/edge.env"): Record<string, string> {
  const where = path.resolve(root, file);
  if (!fs.existsSync(where))
    throw new Error(`${where} is missing: run \`npm start\` first (it writes the edge's settings there)`);
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(where, "utf8").split("\n")) {
    const m = /^([A-Z_]+)='(.*)'$/.exec(line.trim()) ?? /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/'\\''/g, "'");
  }
  return out;
}
