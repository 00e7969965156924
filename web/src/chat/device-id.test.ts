import { describe, expect, it } from "vitest";
import { ClientDeviceId } from "../../../protocol/index.js";
import { deviceId } from "./device-id.js";

function memory(): Pick<Storage, "getItem" | "setItem"> & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe("deviceId", () => {
  it("makes an id the protocol accepts once, and keeps it", () => {
    const store = memory();
    const first = deviceId(store);
    expect(ClientDeviceId.safeParse(first).success).toBe(true);
    expect(deviceId(store)).toBe(first);
    expect(deviceId(memory())).not.toBe(first);
  });

  it("replaces a stored value the protocol would refuse", () => {
    const store = memory();
    store.setItem("edge-chat:device-id", "not valid!");
    const id = deviceId(store);
    expect(id).not.toBe("not valid!");
    expect(ClientDeviceId.safeParse(id).success).toBe(true);
  });
});
