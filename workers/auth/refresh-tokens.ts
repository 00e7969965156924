// Opaque refresh tokens, stored only as SHA-256 hashes and rotated on every use.
// A token's successor is derived from it (HMAC with a server secret) rather than drawn at random,
// so when two tabs refresh with the same token within the grace period both get the same
// successor without the server ever storing a token in the clear.
import { fromB64, toB64, toHex } from "./encoding.js";

export const REUSE_GRACE_MS = 10_000;
export const DEFAULT_REFRESH_TTL_DAYS = 30;
export const DEFAULT_REFRESH_FAMILY_MAX_DAYS = 90;
const DAY_MS = 86_400_000;

/**
 * When a token issued at `now` expires: its own TTL, but never past the family's absolute
 * lifetime, so a stolen family cannot be kept alive forever by rotating it.
 */
export function tokenExpiry(now: number, familyStartedAt: number, ttlDays: number, familyMaxDays: number): Date {
  return new Date(Math.min(now + ttlDays * DAY_MS, familyStartedAt + familyMaxDays * DAY_MS));
}

/** The family's absolute end has passed: sign in again, whatever the token's own expiry says. */
export function familyExpired(now: number, familyStartedAt: number, familyMaxDays: number): boolean {
  return now >= familyStartedAt + familyMaxDays * DAY_MS;
}

export function newRefreshToken(): string {
  return toB64(crypto.getRandomValues(new Uint8Array(32)));
}

export async function hashRefreshToken(token: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    hmacKeys.set(secret, key);
  }
  return key;
}

export async function successorOf(token: string, secret: string): Promise<string> {
  if (!secret) throw new Error("REFRESH_TOKEN_SECRET is not configured");
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(`rotate:${token}`));
  return toB64(new Uint8Array(mac));
}

/** A well-formed token is 43 base64url characters (32 bytes). */
export function isWellFormed(token: string): boolean {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
  return fromB64(token).length === 32;
}
