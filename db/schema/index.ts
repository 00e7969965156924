export * from "./user.js";
export * from "./auth.js";
export * from "./friend.js";
export * from "./chat.js";
export * from "./push.js";
