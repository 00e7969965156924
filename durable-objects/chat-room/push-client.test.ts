import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../lib/config/index.js";
import type { PushBatch } from "../../protocol/index.js";
import { PushClient } from "./push-client.js";

const batch: PushBatch = {
  batch_id: "r:1:1",
  room_id: "00000000-0000-4000-8000-00000000000a",
  room_type: "direct",
  room_name: null,
  last_seq: 1,
  messages: [],
  audience: null,
  reads: [{ user_id: "00000000-0000-4000-8000-000000000001", read_seq: 1 }],
};
const ok = (body: unknown = { batch_id: batch.batch_id, notifications: 0 }) =>
  new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });

describe("PushClient", () => {
  afterEach(() => vi.restoreAllMocks());

  it("posts the batch to /v1/batches with the relay's secret, and takes only a PushBatchAnswer for it as settled", async () => {
    const seen: Array<{ url: string; init?: RequestInit }> = [];
    const answers = [ok(), ok({ batch_id: "another", notifications: 0 }), ok({ taken: true }), new Response("x")];
    const relay = new PushClient("https://relay.example", "s3cret", async (url, init) => {
      seen.push({ url, ...(init ? { init } : {}) });
      return answers.shift()!;
    });
    expect(await relay.postBatch(batch)).toEqual({
      status: 200,
      detail: "",
      answer: { batch_id: batch.batch_id, notifications: 0 },
    });
    expect(seen[0]!.url).toBe("https://relay.example/v1/batches");
    expect(seen[0]!.init!.method).toBe("POST");
    expect(new Headers(seen[0]!.init!.headers).get("authorization")).toBe("Bearer s3cret");
    expect(JSON.parse(String(seen[0]!.init!.body))).toEqual(batch);
    // an answer for another batch, or no answer at all, settles nothing
    for (const detail of [/another/, /no PushBatchAnswer/, /without a JSON body/])
      expect(await relay.postBatch(batch)).toMatchObject({ status: 0, detail: expect.stringMatching(detail) });
  });

  it("answers 0 when the relay cannot be reached, and passes its refusals on", async () => {
    const down = new PushClient("http://127.0.0.1:1", "s", async () => {
      throw new TypeError("fetch failed");
    });
    expect(await down.postBatch(batch)).toMatchObject({ status: 0, detail: expect.stringMatching(/fetch failed/) });
    const refusing = new PushClient("http://127.0.0.1:1", "s", async () => new Response("too big", { status: 413 }));
    expect(await refusing.postBatch(batch)).toEqual({ status: 413, detail: "too big" });
  });

  it("counts every refusal of its secret and says so once per change of state", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const statuses = [401, 401, 503, 200, 403];
    const relay = new PushClient("http://127.0.0.1:1", "wrong", async () => {
      const status = statuses.shift()!;
      return status === 200 ? ok() : new Response("no", { status });
    });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push((await relay.postBatch(batch)).status);
    expect(seen).toEqual([401, 401, 503, 200, 403]);
    expect(relay.health()).toEqual({ unauthorized: 3, refusing: true });
    expect(error.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringMatching(/refuses PUSH_RELAY_SECRET \(401\)/),
      expect.stringMatching(/accepts PUSH_RELAY_SECRET again/),
      expect.stringMatching(/refuses PUSH_RELAY_SECRET \(403\)/),
    ]);
  });

  it("is not made without a relay, nor from an unsafe configuration", () => {
    expect(PushClient.from({})).toBeNull();
    expect(PushClient.from({ PUSH_RELAY_URL: "" })).toBeNull();
    expect(PushClient.from({ PUSH_RELAY_URL: "http://127.0.0.1:8791", PUSH_RELAY_SECRET: "x" })).toBeInstanceOf(
      PushClient,
    );
    expect(() => PushClient.from({ PUSH_RELAY_URL: "http://127.0.0.1:8791", PUSH_RELAY_SECRET: " " })).toThrow(
      /PUSH_RELAY_SECRET must be set/,
    );
    expect(() => PushClient.from({ PUSH_RELAY_URL: "http://10.0.0.5:8791", PUSH_RELAY_SECRET: "x" })).toThrow(
      ConfigError,
    );
    expect(() => PushClient.from({ PUSH_RELAY_URL: "ftp://relay", PUSH_RELAY_SECRET: "x" })).toThrow(/PUSH_RELAY_URL/);
  });
});
