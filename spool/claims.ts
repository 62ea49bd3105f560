import lockfile from 'proper-lockfile';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A claim on one job: while held, no other engine (on this host or another) touches the job. */
export interface Claim {
  readonly key: string;
  /** Set when the claim was lost (its lock went stale or vanished): the holder must stop. */
  readonly lost: boolean;
  release(): Promise<void>;
}

/**
 * Claims are lock directories made by proper-lockfile (mkdir is atomic, also over NFS), refreshed
 * while held and taken over once stale, so work held by a dead process returns after `staleMs`.
 */
export class ClaimRegistry {
  private made = false;

  constructor(
    private readonly dir: string,
    private readonly staleMs: number,
  ) {}

  /** Tries to claim `key` at once; undefined when someone else holds it. */
  async tryClaim(key: string): Promise<Claim | undefined> {
    if (!this.made) {
      await mkdir(this.dir, { recursive: true });
      this.made = true;
    }
    const path = join(this.dir, key);
    const state = { lost: false };
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(path, {
        realpath: false,
        lockfilePath: `${path}.lock`,
        stale: this.staleMs,
        // refreshed four times per stale period: a busy event loop may delay one refresh, not two
        update: Math.max(500, Math.floor(this.staleMs / 4)),
        retries: 0,
        onCompromised: () => {
          state.lost = true;
        },
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
      throw error;
    }
    return {
      key,
      get lost() {
        return state.lost;
      },
      release: async () => {
        if (state.lost) return;
        await release().catch(() => {});
      },
    };
  }
}

/** Thrown by whoever finds the claim it works under lost: the job belongs to its new holder now. */
export class ClaimLost extends Error {
  constructor(key: string) {
    super(`claim ${key} lost`);
    this.name = 'ClaimLost';
  }
}

/** Stops a step that must be done under the claim once the claim is lost. */
export function assertHeld(claim: Claim): void {
  if (claim.lost) throw new ClaimLost(claim.key);
}
