/**
 * A canary's names, known to its sender, to the server of its picture and to the SSRF guard's
 * exception: its batch in incoming/, and the path under which every ImageSys daemon serves its picture
 * (`/canary/<slot>-<id>.png`: the slot names its record, which the server checks first). Pure.
 */

export interface CanaryName {
  /** Its interval (the record `.canary/<slot>.json`). */
  slot: number;
  /** 16 hex digits. */
  id: string;
}

export function canaryPath(canary: CanaryName): string {
  return `/canary/${canary.slot}-${canary.id}.png`;
}

/** The canary a path names, when it is a canary's path. */
export function canaryOf(pathname: string): CanaryName | undefined {
  const match = /^\/canary\/(\d{1,15})-([0-9a-f]{16})\.png$/.exec(pathname);
  return match ? { slot: Number(match[1]), id: match[2]! } : undefined;
}

/** The batch a canary enters by, in incoming/<canary country>/. */
export function canaryBatchName(id: string): string {
  return `canary-${id}.urls`;
}
