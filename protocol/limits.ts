// Bounds from PROTOCOL.md. Every size the system accepts is named here.
export const MAX_GROUP_MEMBERS = 1000;
export const MAX_HTTP_BODY_BYTES = 64 * 1024;
export const HANDLE_MIN = 3;
export const HANDLE_MAX = 32;
export const DISPLAY_NAME_MAX = 64;
export const PASSWORD_MIN = 8;
// scrypt cost does not depend on length, but an unbounded input is still a free memory sink
export const PASSWORD_MAX = 256;
export const ROOM_NAME_MAX = 100;
export const ROOM_NOTICE_MAX = 2000;
export const ROOM_DESCRIPTION_MAX = 1000;
export const USER_SEARCH_LIMIT_MAX = 50;
export const MAX_ACTIVE_DEVICES_PER_USER = 20;
export const PUSH_TOKEN_MAX = 4096;
/** GET /rooms pages */
export const ROOM_LIST_LIMIT_DEFAULT = 50;
export const ROOM_LIST_LIMIT_MAX = 200;
