import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../lib/config/index.js";
import { SinkClient } from "./sink-client.js";

const batch = { batch_id: "r:1", messages: [], read_offsets: [] };

describe("SinkClient", () => {
  afterEach(() => vi.restoreAllMocks());

  it("counts every refusal of its secret and says so once per change of state", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const statuses = [401, 401, 401, 503, 200, 200, 403];
    const sink = new SinkClient(
      "http://127.0.0.1:1",
      "wrong",
      async () => new Response("no", { status: statuses.shift() }),
    );
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) seen.push((await sink.postBatch(batch)).status);
    expect(seen).toEqual([401, 401, 401, 503, 200, 200, 403]);
    expect(sink.health()).toEqual({ unauthorized: 4, refusing: true });
    // refusing (once), accepted again (once), refusing again (once): not once per retry
    expect(error.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringMatching(/refuses SINK_SECRET \(401\)/),
      expect.stringMatching(/accepts SINK_SECRET again/),
      expect.stringMatching(/refuses SINK_SECRET \(403\)/),
    ]);
  });

  it("counts a refused history page too", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const sink = new SinkClient("http://127.0.0.1:1", "wrong", async () => new Response("no", { status: 401 }));
    await expect(sink.page("r", { limit: 10 })).rejects.toThrow(/401/);
    expect(sink.health()).toEqual({ unauthorized: 1, refusing: true });
  });

  it("is not made from an unsafe configuration", () => {
    expect(SinkClient.from({})).toBeNull();
    expect(() => SinkClient.from({ SINK_URL: "http://127.0.0.1:8790", SINK_SECRET: "" })).toThrow(ConfigError);
    expect(() => SinkClient.from({ SINK_URL: "http://192.168.1.9:8790", SINK_SECRET: "x" })).toThrow(ConfigError);
  });
});
