/**
 * Splits a batch's bytes into lines without ever holding more than one bounded line: a line longer
 * than the bound is skipped through to its end and reported by its length and its first bytes, so a
 * file of 700 MB without a newline costs no memory.
 */

export type BatchLine = { line: string } | { tooLong: number; prefix: string };

/** Characters of a too-long line kept to name it in the failed job. */
const PREFIX_CHARS = 120;
const NEWLINE = 0x0a;

export async function* boundedLines(chunks: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<BatchLine> {
  let parts: Buffer[] = [];
  let length = 0;
  let overflow: number | undefined; // bytes of the current line once it is known to be too long
  let prefix = '';
  const feed = (piece: Buffer): void => {
    if (overflow !== undefined) {
      overflow += piece.length;
    } else if (length + piece.length > maxBytes) {
      overflow = length + piece.length;
      prefix = Buffer.concat([...parts, piece.subarray(0, PREFIX_CHARS * 4)]).toString('utf8').slice(0, PREFIX_CHARS);
      parts = [];
      length = 0;
    } else if (piece.length > 0) {
      parts.push(piece);
      length += piece.length;
    }
  };
  const take = (): BatchLine => {
    const line: BatchLine = overflow !== undefined ? { tooLong: overflow, prefix } : { line: Buffer.concat(parts, length).toString('utf8') };
    parts = [];
    length = 0;
    overflow = undefined;
    return line;
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE, start); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      feed(chunk.subarray(start, end));
      yield take();
      start = end + 1;
    }
    feed(chunk.subarray(start));
  }
  if (length > 0 || overflow !== undefined) yield take();
}
