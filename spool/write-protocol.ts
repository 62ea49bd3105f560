/** The messages between WriteThread (the engine's side) and its worker: one request, one reply. */

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
