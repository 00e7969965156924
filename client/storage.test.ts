import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { jsonFileStorage } from "./node-storage.js";
import { memoryStorage, type ChatStorage } from "./storage.js";

async function behavesAsStorage(make: () => ChatStorage, reopen: () => ChatStorage) {
  const s = make();
  const value = { nested: { n: 1 }, list: ["a"] };
  await s.set("a:1", value);
  await s.set("a:2", 2);
  await s.set("b:1", "other");
  value.nested.n = 99; // what was stored is a copy
  expect(await s.get("a:1")).toEqual({ nested: { n: 1 }, list: ["a"] });
  expect((await s.entries("a:")).sort()).toEqual([
    ["a:1", { nested: { n: 1 }, list: ["a"] }],
    ["a:2", 2],
  ]);
  await s.delete("a:2");
  await s.delete("never there");
  expect(await s.get("a:2")).toBeUndefined();
  const again = reopen();
  expect(await again.entries("a:")).toEqual([["a:1", { nested: { n: 1 }, list: ["a"] }]]);
  expect(await again.get("b:1")).toBe("other");
}

describe("storages", () => {
  it("memory: copies in and out, prefixes, deletes; shared by clients over the same object", async () => {
    const shared = memoryStorage();
    await behavesAsStorage(
      () => shared,
      () => shared,
    );
  });

  it("a JSON file: the same, and a new storage over the file finds everything", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-storage-"));
    const file = path.join(dir, "deep", "state.json");
    try {
      await behavesAsStorage(
        () => jsonFileStorage(file),
        () => jsonFileStorage(file),
      );
      expect(JSON.parse(fs.readFileSync(file, "utf8"))).toHaveProperty("b:1", "other");
      expect(fs.readdirSync(path.dirname(file))).toEqual(["state.json"]); // no temporary file left
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
