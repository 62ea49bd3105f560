/** Where the class index lives: `<tree>/.index/`, beside the countries, so the sweeper never sends it. */
import { join } from 'node:path';

export const indexDir = (tree: string): string => join(tree, '.index');
/** The perceptual-hash buckets (phash-index.ts). */
export const phashDir = (tree: string): string => join(indexDir(tree), 'phash');
/** A class an operator set: one small file per image, by hash. */
export const handSetPath = (tree: string, hash: string): string => join(indexDir(tree), 'classified', hash.slice(0, 2), `${hash}.json`);
/** Images per class, one file per engine process (class-counts.ts). */
export const countsDir = (tree: string): string => join(indexDir(tree), 'counts');
