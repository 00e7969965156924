// What "an active member" means in SQL, in one place: the rooms API, the room snapshot and the
// presence scope all ask it.
import { and, eq, isNull } from "drizzle-orm";
import { MemberStatus } from "./codes.js";
import { chatMembers } from "./schema/index.js";

export const isActiveMember = and(eq(chatMembers.status, MemberStatus.active), isNull(chatMembers.leftAt));
