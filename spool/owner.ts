import { hostname } from 'node:os';

/**
 * Who wrote a temporary file: `<host>~<pid>`. Recovery removes a temporary at once when its writer is a
 * dead process on this host, and after a long grace period when the writer is elsewhere.
 */
export interface Owner {
  host: string;
  pid: number;
}

export const SELF: Owner = { host: hostname().replace(/~/g, '-'), pid: process.pid };

export function ownerTag(owner: Owner): string {
  return `${owner.host}~${owner.pid}`;
}

export function parseOwnerTag(name: string): Owner | undefined {
  const match = /^([^~]+)~(\d+)~/.exec(name);
  return match ? { host: match[1]!, pid: Number(match[2]) } : undefined;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the owner is certainly gone: a process of this host that no longer exists. */
export function isOwnerDead(owner: Owner, self: Owner = SELF): boolean {
  return owner.host === self.host && owner.pid !== self.pid && !isProcessAlive(owner.pid);
}
