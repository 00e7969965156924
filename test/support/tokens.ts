// Access tokens for tests and benchmarks, signed by the Worker's own signer: a token made here is
// exactly what a login hands out, so a change to the claims cannot leave the harness behind.
import { DEFAULT_ACCESS_TTL_SECONDS, signAccessToken } from "../../lib/auth-tokens/index.js";

/** `privateJwk`: the key the edge under test signs with (JWT_PRIVATE_JWK); a negative TTL gives an expired token. */
export async function accessToken(
  privateJwk: string,
  user: { id: string; handle: string },
  ttlSeconds = DEFAULT_ACCESS_TTL_SECONDS,
): Promise<string> {
  const { token } = await signAccessToken(
    { JWT_PRIVATE_JWK: privateJwk, ACCESS_TOKEN_TTL_SECONDS: String(ttlSeconds) },
    { userId: user.id, handle: user.handle },
  );
  return token;
}
