/** What a sweep target is, and the grammar of its dest: config checks it, the sweeper uses it. Pure. */

export interface SweepTarget {
  name: string;
  dest: string;
  /** This target's own rsync --bwlimit in KiB/s, overriding sweep.bwlimitKiB. */
  bwlimitKiB?: number;
}

export type TargetKind = 'local' | 'ssh' | 'daemon';

/** What kind of place a target's dest names: rsync://..., host:/path, or a local directory. Pure. */
export function targetKind(dest: string): TargetKind {
  if (dest.startsWith('rsync://')) return 'daemon';
  if (/^[^/:]+:/.test(dest)) return 'ssh';
  return 'local';
}

/**
 * Why a dest cannot be used, or undefined. Pure. A dest is handed to rsync as an argument: one that
 * starts with `-` would be read as an option; `host:` alone is the remote root, not a directory.
 */
export function destProblem(dest: string): string | undefined {
  if (dest.startsWith('-')) return 'a dest that does not start with "-" (rsync would read it as an option)';
  if (/[\0\r\n]/.test(dest)) return 'a dest without control characters';
  const kind = targetKind(dest);
  if (kind === 'daemon' && !/^rsync:\/\/[^/]+\/[^/]+/.test(dest)) return 'rsync://host[:port]/module[/path] with a module';
  if (kind === 'ssh' && !/^[^/:]+:.+/.test(dest)) return 'host:/path with a path after the colon';
  return undefined;
}

