import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { importJWK, jwtVerify } from "jose";
import webpush from "web-push";
import { afterAll, describe, expect, it } from "vitest";
import { edgeSecrets, loadOrCreateDevSecrets, toEnvFile } from "./dev-secrets.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dev-secrets-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The VAPID JWT web-push would send, verified with the public key alone (as a push service does). */
async function vapidSignatureVerifies(publicKey: string, privateKey: string): Promise<boolean> {
  const audience = "https://push.example.com";
  const { Authorization } = webpush.getVapidHeaders(
    audience,
    "mailto:dev@localhost",
    publicKey,
    privateKey,
    "aes128gcm",
  );
  const [, jwt, k] = /^vapid t=([^,]+), k=(.+)$/.exec(Authorization)!;
  expect(k).toBe(publicKey);
  const point = Buffer.from(publicKey, "base64url");
  const key = await importJWK(
    {
      kty: "EC",
      crv: "P-256",
      x: point.subarray(1, 33).toString("base64url"),
      y: point.subarray(33).toString("base64url"),
    },
    "ES256",
  );
  const { payload } = await jwtVerify(jwt!, key, { audience });
  return payload.sub === "mailto:dev@localhost";
}

describe("dev secrets", () => {
  it("makes every secret once, a working VAPID pair among them, and keeps them", async () => {
    const file = path.join(dir, "fresh", "dev-secrets.json");
    const first = await loadOrCreateDevSecrets(file);
    expect(Object.keys(first).sort()).toEqual([
      "JWT_PRIVATE_JWK",
      "PUSH_RELAY_SECRET",
      "REFRESH_TOKEN_SECRET",
      "SINK_SECRET",
      "VAPID_PRIVATE_KEY",
      "VAPID_PUBLIC_KEY",
    ]);
    expect(first.PUSH_RELAY_SECRET).not.toBe(first.SINK_SECRET);
    expect(first.PUSH_RELAY_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(await vapidSignatureVerifies(first.VAPID_PUBLIC_KEY, first.VAPID_PRIVATE_KEY)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(await loadOrCreateDevSecrets(file)).toEqual(first);
  });

  it("adds what a file made before the relay lacks, keeping the rest", async () => {
    const file = path.join(dir, "old.json");
    const old = { JWT_PRIVATE_JWK: '{"kid":"old"}', REFRESH_TOKEN_SECRET: "r".repeat(43), SINK_SECRET: "s".repeat(43) };
    fs.writeFileSync(file, JSON.stringify(old));
    const upgraded = await loadOrCreateDevSecrets(file);
    expect(upgraded).toMatchObject(old);
    expect(upgraded.VAPID_PUBLIC_KEY).toMatch(/^B[A-Za-z0-9_-]{86}$/);
    expect(upgraded.PUSH_RELAY_SECRET).toBeTruthy();
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual(upgraded);
  });

  it("gives the edge every secret but the VAPID private key", async () => {
    const secrets = await loadOrCreateDevSecrets(path.join(dir, "edge.json"));
    const edge = edgeSecrets(secrets);
    expect(edge).toMatchObject({
      VAPID_PUBLIC_KEY: secrets.VAPID_PUBLIC_KEY,
      PUSH_RELAY_SECRET: secrets.PUSH_RELAY_SECRET,
    });
    expect(edge).not.toHaveProperty("VAPID_PRIVATE_KEY");
    expect(toEnvFile(edge)).not.toContain(secrets.VAPID_PRIVATE_KEY);
  });
});
