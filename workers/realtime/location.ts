// Where to create a user's session object: near the user, judged by the continent Cloudflare
// saw their request come from. Only the first request that creates the object decides.
const HINTS: Record<string, DurableObjectLocationHint> = {
  NA: "enam",
  SA: "sam",
  EU: "weur",
  AF: "afr",
  AS: "apac",
  OC: "oc",
  AN: "oc",
};

export function locationHintFor(
  cf: { continent?: unknown; longitude?: unknown } | undefined,
): DurableObjectLocationHint | undefined {
  const continent = typeof cf?.continent === "string" ? cf.continent : undefined;
  if (!continent) return undefined;
  if (continent === "NA") {
    const lon = Number(cf?.longitude);
    return Number.isFinite(lon) && lon < -100 ? "wnam" : "enam";
  }
  return HINTS[continent];
}
