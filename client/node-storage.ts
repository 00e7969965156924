// ChatStorage in one JSON file, for Node (a CLI, a bot, a test of a restart). A separate entry:
// the SDK's main entry imports nothing of Node. Each change rewrites the file through a temporary
// file and a rename, so a crash leaves the old version or the new one, never half of one.
import fs from "node:fs/promises";
import path from "node:path";
import type { ChatStorage } from "./storage.js";

export function jsonFileStorage(file: string): ChatStorage {
  let data: Promise<Record<string, unknown>> | null = null;
  let writing: Promise<void> = Promise.resolve();
  const load = () =>
    (data ??= fs.readFile(file, "utf8").then(
      (text) => JSON.parse(text) as Record<string, unknown>,
      (err: NodeJS.ErrnoException): Record<string, unknown> => {
        if (err.code === "ENOENT") return {};
        throw err;
      },
    ));
  // one write at a time, in the order of the changes
  const save = (all: Record<string, unknown>) =>
    (writing = writing.then(async () => {
      const tmp = `${file}.${process.pid}.tmp`;
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(tmp, JSON.stringify(all));
      await fs.rename(tmp, file);
    }));
  const copy = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  return {
    async get(key) {
      return copy((await load())[key]);
    },
    async set(key, value) {
      const all = await load();
      all[key] = copy(value);
      await save(all);
    },
    async delete(key) {
      const all = await load();
      if (!(key in all)) return;
      delete all[key];
      await save(all);
    },
    async entries(prefix) {
      return Object.entries(await load())
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, v]) => [k, copy(v)] as [string, unknown]);
    },
  };
}
