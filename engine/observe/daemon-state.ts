/**
 * What a running engine tells the world: `spool/.state/<host>~<pid>.json`, rewritten atomically every
 * few seconds and removed at a clean stop. `imagesys status` reads these files, so it reports paused
 * sources and disk pauses whether it runs beside the daemon or not; a file that stopped being
 * refreshed belongs to an engine that died.
 */
import { readOwnText } from '../../spool/safe-open.js';
import { readdir, unlink } from 'node:fs/promises';
import { daemonStatePath, daemonStatesDir } from '../../spool/layout.js';
import { systemClock } from '../core/clock.js';
import type { AtomicWriter } from '../../spool/atomic.js';
import { isOwnerDead, ownerTag, SELF, type Owner } from '../../spool/owner.js';
import type { ClockOffset } from '../health/clock-offset.js';
import type { DiskFree } from '../health/disk.js';
import type { PausedSource } from '../health/health.js';
import type { MinuteRecord } from './history.js';
import type { LatestThumbnail } from './status.js';

/** What one engine has done since it started: `imagesys run` prints it, the state file carries it. */
export interface EngineStats {
  thumbed: number;
  /** Attempts aborted because they made no progress for health.stuckMs. */
  stuck: number;
  skipped: number;
  failed: number;
  retries: number;
  /** Originals set down in downloaded/ because every thread was busy. */
  spilled: number;
  batches: number;
  failuresByCode: Record<string, number>;
}

export interface DaemonState {
  version: 1;
  host: string;
  pid: number;
  mode: 'daemon' | 'once';
  countries: string[];
  startedAt: string;
  updatedAt: string;
  queued: { incoming: number; downloaded: number; active: number; waiting: number };
  stats: EngineStats;
  /** Hosts and datasources paused for failing too often. */
  paused: PausedSource[];
  disk: DiskFree[];
  /** Why downloads are paused now (low disk), if they are. */
  downloadsPaused?: string;
  /** Its history file's name (engine/observe/history.ts) and the minute in progress, not yet in that file. */
  historyKey?: string;
  currentMinute?: MinuteRecord;
  /** Its newest thumbnails, newest first. */
  latest?: LatestThumbnail[];
  /** Where it serves its status page and /metrics. */
  http?: string;
  /** Its clock against the spool file system's (engine/health/clock-offset.ts). */
  clock?: ClockOffset;
}

/** How often a running engine rewrites its state file; three missed refreshes mean it is gone. */
export const STATE_INTERVAL_MS = 2_000;

function stateFileOf(spool: string, owner: Owner = SELF): string {
  return daemonStatePath(spool, `${ownerTag(owner)}.json`);
}

export async function writeDaemonState(writer: AtomicWriter, spool: string, state: DaemonState): Promise<void> {
  await writer.write(stateFileOf(spool), `${JSON.stringify(state, null, 2)}\n`, { skipDirSync: true });
}

export async function removeDaemonState(spool: string): Promise<void> {
  await unlink(stateFileOf(spool)).catch(() => {});
}

export interface SeenDaemon extends DaemonState {
  /** Refreshed recently (and, on this host, its process exists). */
  alive: boolean;
}

/** Every engine's last state; dead engines' files older than a day are removed on the way. */
export async function readDaemonStates(spool: string, now: number = systemClock()): Promise<SeenDaemon[]> {
  const dir = daemonStatesDir(spool);
  const names = await readdir(dir).catch(() => [] as string[]);
  const seen: SeenDaemon[] = [];
  for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
    let state: DaemonState;
    try {
      state = JSON.parse((await readOwnText(daemonStatePath(spool, name))) ?? '') as DaemonState;
    } catch {
      continue;
    }
    const age = now - Date.parse(state.updatedAt);
    const alive = age < 3 * STATE_INTERVAL_MS && !isOwnerDead({ host: state.host, pid: state.pid });
    if (!alive && age > 86_400_000) {
      await unlink(daemonStatePath(spool, name)).catch(() => {});
      continue;
    }
    seen.push({ ...state, alive });
  }
  return seen;
}
