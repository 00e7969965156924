// An oversized body gets its 413, not a reset connection: workerd resets a connection that still
// holds unread request bytes, so the edge reads a refused body (up to DRAIN_MAX_BYTES) first.
import { describe, expect, it } from "vitest";
import { MAX_HTTP_BODY_BYTES } from "../../protocol/index.js";
import { useEdge } from "../../test/support/edge.js";

const edge = useEdge();

async function post(body: BodyInit, headers: Record<string, string> = {}) {
  try {
    const res = await edge.fetch("/v1/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
    return { status: res.status, body: (await res.json()) as { error?: { code?: string } } };
  } catch (err) {
    return { status: 0, body: { error: { code: (err as { cause?: { code?: string } }).cause?.code ?? String(err) } } };
  }
}

describe("request bodies over the limit", () => {
  it("answer 413 too_large on a reused connection, every time (300 in a row)", async () => {
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const size = MAX_HTTP_BODY_BYTES + 4_000 + (i % 7) * 10_000;
      const res = await post(JSON.stringify({ handle: "big", password: "p".repeat(size) }));
      const key = `${res.status} ${res.body.error?.code}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    expect(Object.fromEntries(outcomes)).toEqual({ "413 too_large": 300 });
  }, 120_000);

  it("answer 413 without a Content-Length too (a streamed body), and a streamed body within it is read", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent >= MAX_HTTP_BODY_BYTES * 2) return ctl.close();
        sent += chunk.byteLength;
        ctl.enqueue(chunk);
      },
    });
    const res = await post(stream);
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe("too_large");
    const small = new TextEncoder().encode(JSON.stringify({ handle: "h" }));
    const next = await post(
      new ReadableStream<Uint8Array>({
        start(ctl) {
          ctl.enqueue(small);
          ctl.close();
        },
      }),
    );
    expect(next.status).toBe(400);
    expect(next.body.error?.code).toBe("invalid");
  });
});
