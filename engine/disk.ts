import type { StatsFs } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

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

/** One line for logs and status: which file systems are below the watermark. Pure. */
export function describeLowDisks(disks: readonly DiskFree[], minFreeMiB: number): string | undefined {
  const low = disks.filter((d) => d.low);
  if (low.length === 0) return undefined;
  return `${low.map((d) => `${d.role} ${d.path} has ${d.freeMiB} MiB free`).join(', ')} (watermark ${minFreeMiB} MiB): downloads paused`;
}
