import { describe, expect, it } from "vitest";
import { RoomClientFrame } from "../../protocol/index.js";
import { parseClientFrame } from "./frames.js";

const room = "6c1a4a52-8b1e-4b8e-9a3e-0e4a1c2b3d4e";

describe("parseClientFrame", () => {
  it("accepts a valid send", () => {
    const r = parseClientFrame(
      JSON.stringify({ type: "send", room_id: room, client_message_id: "c1", body: "hi" }),
      RoomClientFrame,
    );
    expect(r.ok).toBe(true);
  });
  it.each([
    ["binary", new ArrayBuffer(4), "invalid"],
    ["bad JSON", "{nope", "invalid"],
    ["an array", "[1]", "invalid"],
    ["unknown type", JSON.stringify({ type: "dance" }), "invalid"],
    ["missing fields", JSON.stringify({ type: "send", room_id: room }), "invalid"],
    ["wrong types", JSON.stringify({ type: "read", room_id: room, seq: "3" }), "invalid"],
    [
      "too large",
      JSON.stringify({ type: "send", room_id: room, client_message_id: "c", body: "x".repeat(70_000) }),
      "too_large",
    ],
    [
      "4,001 code points",
      JSON.stringify({ type: "send", room_id: room, client_message_id: "c", body: "😀".repeat(4001) }),
      "invalid",
    ],
    [
      "over 16 KiB of UTF-8",
      JSON.stringify({ type: "send", room_id: room, client_message_id: "c", body: "😀".repeat(4100) }),
      "invalid",
    ],
  ] as const)("answers %s with an error frame", (_name, raw, code) => {
    const r = parseClientFrame(raw as string | ArrayBuffer, RoomClientFrame);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(code);
  });
  it("names the UTF-8 limit for a body over 16 KiB (4-byte characters reach it only past 4,000 code points)", () => {
    const r = parseClientFrame(
      JSON.stringify({ type: "send", room_id: room, client_message_id: "c", body: "😀".repeat(4100) }),
      RoomClientFrame,
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/16384 bytes/);
  });
  it("echoes the client_message_id of a bad send as ref", () => {
    const r = parseClientFrame(
      JSON.stringify({ type: "send", room_id: "nope", client_message_id: "m-7", body: "x" }),
      RoomClientFrame,
    );
    expect(r.ok || r.error.ref).toBe("m-7");
  });
  it("echoes the op_id of a bad edit or delete as ref, before its frame id", () => {
    const edit = parseClientFrame(
      JSON.stringify({ type: "edit", id: "f-1", room_id: room, seq: 3, op_id: "op-9", body: " " }),
      RoomClientFrame,
    );
    expect(edit.ok || edit.error.ref).toBe("op-9");
    const del = parseClientFrame(
      JSON.stringify({ type: "delete", room_id: room, seq: 0, op_id: "op-10" }),
      RoomClientFrame,
    );
    expect(del.ok || del.error.ref).toBe("op-10");
  });
});
