import webpush from "web-push";
import { describe, expect, it } from "vitest";
import type { ErrorBody, VapidPublicKeyResponse } from "../../protocol/index.js";
import { call } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, useEdge } from "../../test/support/edge.js";

const vapid = webpush.generateVAPIDKeys();
const edge = useEdge({ VAPID_PUBLIC_KEY: vapid.publicKey });

describe("GET /v1/push/vapid-public-key", () => {
  it("serves the configured public key to anyone, without a token", async () => {
    const res = await call<VapidPublicKeyResponse>(edge, "GET", "/v1/push/vapid-public-key");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ key: vapid.publicKey });
    // the key a browser passes to PushManager.subscribe: an uncompressed P-256 point
    const point = Buffer.from(res.body.key, "base64url");
    expect(point).toHaveLength(65);
    expect(point[0]).toBe(0x04);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
  });

  it("answers 404 not_configured when no key is set, and 503 for a malformed one", async () => {
    const unset = await startEdge(testEdgeOptions());
    const malformed = await startEdge(testEdgeOptions({ VAPID_PUBLIC_KEY: vapid.privateKey }));
    try {
      const res = await call<ErrorBody>(unset, "GET", "/v1/push/vapid-public-key");
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("not_configured");
      expect(res.body.error.message).toContain("VAPID_PUBLIC_KEY");
      // a private key pasted by mistake is never served
      const bad = await call<ErrorBody>(malformed, "GET", "/v1/push/vapid-public-key");
      expect(bad.status).toBe(503);
      expect(JSON.stringify(bad.body)).not.toContain(vapid.privateKey);
    } finally {
      await Promise.all([unset.close(), malformed.close()]);
    }
  });
});
