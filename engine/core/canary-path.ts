/** Where every ImageSys daemon serves a canary's picture: one path, known to the sender, the server and the SSRF guard's exception. Pure. */

export function canaryPath(id: string): string {
  return `/canary/${id}.png`;
}

/** The canary id (16 hex digits) a path names, when it is a canary's path. */
export function canaryIdOf(pathname: string): string | undefined {
  return /^\/canary\/([0-9a-f]{16})\.png$/.exec(pathname)?.[1];
}
