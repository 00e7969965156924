// Password hashing with scrypt (@noble/hashes, pure JS: workerd allows no runtime WASM compile and
// caps PBKDF2 at 100,000 iterations). The parameters travel inside each hash, so raising the cost
// later only needs a new default: old hashes still verify and are re-hashed on the next login.
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { fromB64, toB64 } from "./encoding.js";

export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

// N=2^14, r=8, p=1: 16 MiB and ~60 ms of CPU in workerd (see README, "Password hashing").
export const DEFAULT_SCRYPT: ScryptParams = { logN: 14, r: 8, p: 1 };
const KEY_LEN = 32;

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await derive(password, salt, params);
  return `scrypt$${params.logN}$${params.r}$${params.p}$${toB64(salt)}$${toB64(key)}`;
}

export interface Verification {
  ok: boolean;
  /** the hash was made with other parameters than the current default */
  needsRehash: boolean;
}

export async function verifyPassword(
  password: string,
  stored: string,
  current: ScryptParams = DEFAULT_SCRYPT,
): Promise<Verification> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return { ok: false, needsRehash: false };
  const params = { logN: Number(parts[1]), r: Number(parts[2]), p: Number(parts[3]) };
  const expected = fromB64(parts[5]!);
  const actual = await derive(password, fromB64(parts[4]!), params);
  const needsRehash = params.logN !== current.logN || params.r !== current.r || params.p !== current.p;
  return { ok: constantTimeEqual(actual, expected), needsRehash };
}

// A hash to verify against when the handle is unknown, so the answer takes as long either way.
let dummy: Promise<string> | undefined;
export function dummyHash(params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  dummy ??= hashPassword("not-a-password", params);
  return dummy;
}

function derive(password: string, salt: Uint8Array, { logN, r, p }: ScryptParams): Promise<Uint8Array> {
  return scryptAsync(password.normalize("NFKC"), salt, { N: 2 ** logN, r, p, dkLen: KEY_LEN, asyncTick: 50 });
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
