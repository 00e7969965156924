// Read offsets copied from a ChatRoom into chat_members.last_read_seq, in batches, so lists that
// do not wake the rooms (and anything reporting from PostgreSQL) see them. Forward only.
import { sql } from "drizzle-orm";
import type { Exec } from "./client.js";

export async function copyReadOffsets(
  db: Exec,
  roomId: string,
  offsets: ReadonlyArray<{ user_id: string; read_seq: number }>,
): Promise<void> {
  if (offsets.length === 0) return;
  const rows = sql.join(
    offsets.map((o) => sql`(${o.user_id}::uuid, ${o.read_seq}::bigint)`),
    sql`, `,
  );
  await db.execute(sql`
    update chat_members m set last_read_seq = v.seq, updated_at = now()
    from (values ${rows}) as v(user_id, seq)
    where m.room_id = ${roomId} and m.user_id = v.user_id and m.last_read_seq < v.seq`);
}
