/**
 * What intake needs of the tree, passed in by the caller (the tree's `treeToucher`) so that spool/
 * does not depend on the tree: an image already there is refreshed (purge keeps it) instead of being
 * made again.
 */
export interface ImageToucher {
  /** Refreshes the image's files; their mtime before, or undefined when the image is not (whole) in the tree. */
  touch(country: string, hash: string, now: Date): Promise<Date | undefined>;
}
