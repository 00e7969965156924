import type { PublicUser } from "../../protocol/index.js";

export function publicUser(row: { id: string; handle: string; displayName: string }): PublicUser {
  return { id: row.id, handle: row.handle, display_name: row.displayName };
}
