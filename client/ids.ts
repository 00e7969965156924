// Ids the client makes itself: client_message_id and op_id (protocol/frames.ts ClientMessageId:
// letters, digits and - _ : . up to 64). 128 random bits, so two devices never collide.
export function randomId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return `${prefix}-${hex}`;
}
