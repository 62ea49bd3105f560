/** Where the class index lives: `<tree>/.index/`, beside the countries, so the sweeper never sends it. */
import { join } from 'node:path';

export const indexDir = (tree: string): string => join(tree, '.index');
/** The perceptual-hash buckets (phash-index.ts). */
export const phashDir = (tree: string): string => join(indexDir(tree), 'phash');
/** A class an operator set: one small file per image, by hash. */
export const handSetPath = (tree: string, hash: string): string => join(indexDir(tree), 'classified', hash.slice(0, 2), `${hash}.json`);
/** Images per class (class-counts.ts): every file here is added up. */
export const countsDir = (tree: string): string => join(indexDir(tree), 'counts');
/** One engine run's counts: `<host>~<pid>~<run>` (a pid comes again: a container's engine is pid 1 at every start). */
export const runCountsPath = (tree: string, owner: string, run: string): string => join(countsDir(tree), `${owner}~${run}.json`);
/** What `imagesys classify` changed on this host, kept from one command to the next. */
export const classifyCountsPath = (tree: string, host: string): string => join(countsDir(tree), `${host}~classify.json`);
