/**
 * libfaketime (Debian `faketime`, which scripts/setup.sh installs): an engine process whose clock is
 * off by a given amount, for the tests of hosts whose clocks differ. It moves what the process reads
 * of the time (Date.now(), the monotonic clock by the same amount), not the file system's times.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { firstMissing, programMissing } from './needs.js';

/** libfaketime's preload library, from its Debian package (or the usual places). */
function findLibrary(): string | undefined {
  const listed = spawnSync('dpkg', ['-L', 'libfaketime'], { encoding: 'utf8' });
  const fromDpkg = listed.status === 0 ? listed.stdout.split('\n').find((line) => line.endsWith('/libfaketime.so.1')) : undefined;
  return [fromDpkg, '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'].find((p) => p !== undefined && existsSync(p));
}

export const FAKETIME_LIBRARY = findLibrary();

/** Why clocks cannot be skewed here, or undefined when they can (for testsNeeding). */
export const faketimeMissing = (): string | undefined => firstMissing(programMissing('faketime'), FAKETIME_LIBRARY ? undefined : 'libfaketime.so.1 is not installed (scripts/setup.sh installs faketime)');

/** The environment of a process whose clock is `offset` off (libfaketime's syntax: +40s, -40s, +1h); 'none': this host's clock. */
export function skewedClock(offset: string): NodeJS.ProcessEnv | undefined {
  if (offset === 'none') return undefined;
  return { LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: offset, FAKETIME_DONT_RESET: '1' };
}
