// How long an access token lives, read from its own `iat` and `exp` (it is a JWT). Measured as a
// duration from the moment we got it, it is immune to a wrong clock on this device, which the
// absolute `access_token_expires_at` is not. Nothing here verifies the token: the server does.
export function tokenLifetimeMs(token: string): number | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const b64 = payload
      .replace(/-/g, "+")
      .replace(/_/g, "/")
      .padEnd(Math.ceil(payload.length / 4) * 4, "=");
    const claims = JSON.parse(atob(b64)) as { iat?: unknown; exp?: unknown };
    if (typeof claims.iat !== "number" || typeof claims.exp !== "number" || claims.exp <= claims.iat) return null;
    return (claims.exp - claims.iat) * 1000;
  } catch {
    return null;
  }
}
