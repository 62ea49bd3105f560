/** The messages between WriteThread (the engine's side) and its worker: one request, one reply, and the error codec (pure). */

/** What AtomicWriter does, by name: the worker runs the same method with these arguments. */
export type WriteOp =
  | { op: 'write'; path: string; mustExist?: boolean; skipDirSync?: boolean }
  | { op: 'writeAll' }
  | { op: 'move'; from: string; to: string; skipSync?: boolean }
  | { op: 'syncDir'; dir: string };

/** One call of an AtomicWriter's method. */
export type WriteCall = WriteOp & {
  /** The files of a writeAll; for a write, its one file (its `path` is the op's). */
  files: Array<{ path: string; data: string | Uint8Array }>;
};

/** A call and the writer it is made on: the worker keeps one AtomicWriter per temporary folder and fsync. */
export type WriterCall = WriteCall & { tmpDir: string; fsync: boolean };

export type WriteRequest = WriterCall & { id: number };

/** An error's parts that callers test (`code` above all: ENOENT is how a missing file is told). */
export interface WireError {
  message: string;
  name?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export interface WriteReply {
  id: number;
  error?: WireError;
}

/** An error as it crosses: only what callers test survives a structured clone reliably, so it is picked out. */
export function toWire(error: unknown): WireError {
  const e = error as Partial<NodeJS.ErrnoException> | null;
  const wire: WireError = { message: e?.message ?? String(error) };
  if (e?.name) wire.name = e.name;
  if (e?.code !== undefined) wire.code = e.code;
  if (e?.errno !== undefined) wire.errno = e.errno;
  if (e?.syscall !== undefined) wire.syscall = e.syscall;
  if (e?.path !== undefined) wire.path = e.path;
  return wire;
}

/** The error again, as calling code expects it from fs: message, and code, errno, syscall, path when it had them. */
export function fromWire(wire: WireError): Error {
  const error = new Error(wire.message) as NodeJS.ErrnoException;
  if (wire.name) error.name = wire.name;
  if (wire.code !== undefined) error.code = wire.code;
  if (wire.errno !== undefined) error.errno = wire.errno;
  if (wire.syscall !== undefined) error.syscall = wire.syscall;
  if (wire.path !== undefined) error.path = wire.path;
  return error;
}
