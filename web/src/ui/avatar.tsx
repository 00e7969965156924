// A round badge with someone's initials (or a group's), and their presence as a dot.
import { initials } from "../lib/format.js";

export function Avatar({ name, presence }: { name: string; presence?: "online" | "offline" | undefined }) {
  return (
    <span class="avatar" aria-hidden="true">
      {initials(name)}
      {presence && <span class={`dot dot-${presence}`} />}
    </span>
  );
}

/** The words for a presence dot, for screen readers and tooltips. */
export function presenceText(p: { status: "online" | "offline"; last_seen_at?: string } | undefined): string {
  if (!p) return "";
  if (p.status === "online") return "online";
  return p.last_seen_at ? `last seen ${new Date(p.last_seen_at).toLocaleString()}` : "offline";
}
