// What a name people see may hold. A display name or room name is shown to others, so it must
// not reorder the text around it (bidi overrides and isolates: a name can make a message read
// backwards), carry C0/C1 controls (they break rendering and logs), or look empty (only
// whitespace, format characters, combining marks or fillers: an impostor with no visible name).

/** U+202A-202E (embeddings, overrides) and U+2066-2069 (isolates). */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/;
/** C0 controls, DEL and C1 controls (U+0080-009F). */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * Characters that draw nothing on their own: whitespace, format characters (zero-width space and
 * joiners, soft hyphen, tags), combining marks with nothing to combine, and the blank fillers
 * (Hangul fillers, Braille blank) that are letters or symbols to Unicode but show as space.
 */
const INVISIBLE = /[\p{White_Space}\p{Cf}\p{M}\u115f\u1160\u3164\uffa0\u2800]/u;
const ONLY_INVISIBLE = new RegExp(`^${INVISIBLE.source}*$`, "u");

/** Why a human-visible name is refused, or null when it is fine. */
export function nameProblem(s: string): string | null {
  if (CONTROLS.test(s)) return "must not contain control characters";
  if (BIDI_CONTROLS.test(s)) return "must not contain bidirectional override or isolate characters";
  if (ONLY_INVISIBLE.test(s)) return "must contain a visible character";
  return null;
}
