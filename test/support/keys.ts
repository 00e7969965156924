import { exportJWK, generateKeyPair } from "jose";

/** A fresh ES256 signing key as the Worker's JWT_PRIVATE_JWK expects it. */
export async function newSigningJwk(kid = `k-${Date.now().toString(36)}`): Promise<string> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: "ES256" });
}
