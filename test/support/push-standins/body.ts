// A request body read up to `max` bytes (the rest is drained, not kept): the stand-ins judge the
// size themselves, as the real services answer 413 rather than drop the connection.
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";

export function readBody(req: IncomingMessage | Http2ServerRequest, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
