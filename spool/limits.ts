/**
 * Bounds on everything a user can feed the engine through the spool: one place for each, listed in
 * the README (Limits). Past a bound, the input is refused with a reason, never buffered whole.
 */
export const LIMITS = Object.freeze({
  /** Characters of a URL. Listing photo URLs are far shorter; browsers and CDNs stop near 8 KB. */
  urlLength: 4_096,
  /** Characters of a datasource id (it becomes a metric label and a config key): letters, digits, `_ - .` */
  datasourceLength: 64,
  /** Bytes of one batch line: a URL, a tab, a datasource id, and room for stray spaces and a CR. */
  batchLineBytes: 8_192,
  /** Bytes of a job file: a job is a few hundred bytes of JSON. */
  jobFileBytes: 64 * 1024,
  /** Bytes of a batch or job file name: a claim adds its prefix and suffix, and file systems stop at 255. */
  fileNameBytes: 200,
});

/** A datasource id: what `LIMITS.datasourceLength` bounds. */
export const DATASOURCE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Why a file name cannot be worked on, or undefined. Pure. */
export function nameProblem(name: string): string | undefined {
  const bytes = Buffer.byteLength(name);
  return bytes > LIMITS.fileNameBytes ? `a file name of ${bytes} bytes is longer than the ${LIMITS.fileNameBytes} allowed` : undefined;
}
