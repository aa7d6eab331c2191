// Many child processes, never more at once than there are cores: on a 2-core box 32 node processes
// at once take seconds each, and a test must not depend on how many cores it gets.
import { availableParallelism } from 'node:os'

export async function mapLimited<T, R>(items: readonly T[], work: (item: T, index: number) => Promise<R>, limit = availableParallelism()): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  return results
}
