/**
 * Imported first by every entry point. sharp's work and every fs call (fsyncs included) share the
 * libuv thread pool, 4 threads by default: with that many, fsyncs of the spool would queue behind
 * image decodes and the reverse. The pool is created on first use, so this must run before any I/O.
 */
process.env.UV_THREADPOOL_SIZE ??= '16';
export {};
