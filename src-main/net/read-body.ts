// A request body read with a size limit: what the client port and the peer port both need.
import type { IncomingMessage } from 'node:http';

export interface Body {
  data: Buffer;
  tooLarge: boolean;
  aborted: boolean;
}

/**
 * Reads the body, keeping at most `limit` bytes. Past the limit the rest is drained and dropped
 * (Node's requestTimeout bounds how long), so the client always gets to read the answer.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    let settled = false;
    const settle = (aborted: boolean) => {
      if (settled) return;
      settled = true;
      // A body in one chunk (nearly every one) is kept as it came, not copied.
      const data = tooLarge ? Buffer.alloc(0) : chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks);
      resolve({ data, tooLarge, aborted });
    };
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
      } else chunks.push(chunk);
    });
    req.on('end', () => settle(false));
    req.on('error', () => settle(true));
    req.on('close', () => settle(!req.complete));
  });
}
