// Login throttling rules. Attempts are counted per key in a fixed window, before any password is
// hashed (the login statement increments and reads in one go, see login-attempt.ts), so a burst
// of simultaneous guesses is refused instead of evaluated. Three keys:
//   (handle, IP) tight: one address guessing one account;
//   IP           looser: one address guessing many accounts;
//   handle       loose, and only for strangers: many addresses guessing one account. An address or
//                device this account logged in from before still passes it, so nobody can lock
//                an owner out with a handful of wrong passwords.
// A successful login gives its attempt back and clears its (handle, IP) count: the counts are of
// failures and of attempts still being judged.
import { wholeNumber, type ConfigEnv } from "../../lib/config/index.js";

export interface LoginLimits {
  windowMs: number;
  perHandleIp: number;
  perIp: number;
  perHandle: number;
}

export function loginLimits(env: ConfigEnv): LoginLimits {
  return {
    windowMs: wholeNumber(env, "LOGIN_WINDOW_SECONDS", { default: 900, min: 1 }) * 1000,
    perHandleIp: wholeNumber(env, "LOGIN_FAILURES_PER_HANDLE_IP", { default: 5, min: 1 }),
    perIp: wholeNumber(env, "LOGIN_FAILURES_PER_IP", { default: 30, min: 1 }),
    perHandle: wholeNumber(env, "LOGIN_FAILURES_PER_HANDLE", { default: 20, min: 1 }),
  };
}

export interface ThrottleKeys {
  handleIp: string;
  handle: string;
  /** null when the client's address is unknown (no CF-Connecting-IP) */
  ip: string | null;
}

// an address (as Cloudflare sets it) has no "|", so "hi:<ip>|<handle>" names exactly one pair
export function throttleKeys(handle: string, ip: string | null): ThrottleKeys {
  return { handleIp: `hi:${ip ?? ""}|${handle}`, handle: `h:${handle}`, ip: ip ? `i:${ip}` : null };
}
