export * from "./errors.js";
export * from "./limits.js";
export * from "./http.js";
export * from "./models.js";
export * from "./frames.js";
export * from "./social.js";
export * from "./rooms.js";
export * from "./archive.js";
