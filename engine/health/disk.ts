import type { StatsFs } from 'node:fs';
import { mkdir, statfs, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const MIB = 1024 * 1024;

/** Free space of the file system holding one watched path. */
export interface DiskFree {
  /** What the path is to ImageSys: spool or tree. */
  role: string;
  path: string;
  freeMiB: number;
  totalMiB: number;
  low: boolean;
}

/**
 * Free space for unprivileged writers (f_bavail) on the file systems of `paths`; `low` when below
 * the watermark. A path that cannot be measured counts as low: better to pause than to fill a disk.
 */
export async function measureDisks(paths: Record<string, string>, minFreeMiB: number): Promise<DiskFree[]> {
  return Promise.all(
    Object.entries(paths).map(async ([role, path]) => {
      try {
        const fs = await statfsOfNearest(path);
        const freeMiB = Math.floor((fs.bavail * fs.bsize) / MIB);
        return { role, path, freeMiB, totalMiB: Math.floor((fs.blocks * fs.bsize) / MIB), low: freeMiB < minFreeMiB };
      } catch {
        return { role, path, freeMiB: 0, totalMiB: 0, low: true };
      }
    }),
  );
}

/** A directory not made yet (the tree before its first image) lives on its parent's file system. */
async function statfsOfNearest(path: string): Promise<StatsFs> {
  try {
    return await statfs(path);
  } catch (error) {
    const parent = dirname(path);
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === path) throw error;
    return statfsOfNearest(parent);
  }
}

/**
 * Error codes that say the disk will not take a write (permissions, a read-only or full file system):
 * no attempt at a job can cure them, so the job waits instead of spending its attempts.
 */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT']);

/** A file system's refusal of a write (an fs error, with its path: not a connect() that a firewall refused with EPERM). */
export function isUnwritable(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, path, syscall } = e as NodeJS.ErrnoException;
    if (UNWRITABLE.has(code ?? '') && typeof path === 'string' && syscall !== 'connect') return true;
  }
  return false;
}

/** Why a directory (made if missing) takes no file, or undefined when a probe file could be written there. */
export async function writeProblem(dir: string): Promise<string | undefined> {
  const probe = join(dir, `.write-probe-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, '');
    await unlink(probe);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

/** One line for logs and status: which file systems are below the watermark. Pure. */
export function describeLowDisks(disks: readonly DiskFree[], minFreeMiB: number): string | undefined {
  const low = disks.filter((d) => d.low);
  if (low.length === 0) return undefined;
  return `${low.map((d) => `${d.role} ${d.path} has ${d.freeMiB} MiB free`).join(', ')} (watermark ${minFreeMiB} MiB): downloads paused`;
}
