/** Runs fn over items with at most `concurrency` in flight, taken in the order of items. */
export async function runLimited<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      await fn(items[index]!, index);
    }
  });
  await Promise.all(lanes);
}
