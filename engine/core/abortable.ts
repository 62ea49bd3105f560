/**
 * Stops waiting for a thumbnail task once the engine aborts the job (stuck). The task itself is not
 * cancelled: piscina runs an abortable task alone on its thread, which would halve the throughput
 * that two tasks per thread give; a task that really hangs keeps its thread busy until a restart.
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
