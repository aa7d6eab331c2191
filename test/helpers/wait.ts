// Waiting for events, never for time: a condition polled until it holds, bounded generously so a
// slow or loaded machine only makes a test slower, never red.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

/** Far beyond anything the product itself waits for; reaching it means the event never came. */
export const EVENT_BOUND_MS = 60_000

type Seen<T> = T | undefined | false

/** Polls `check` until it returns (or resolves to) something other than undefined/false, or throws naming `what`. */
export async function until<T>(what: string, check: () => Seen<T> | Promise<Seen<T>>, boundMs = EVENT_BOUND_MS): Promise<T> {
  const deadline = Date.now() + boundMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${boundMs} ms`)
    await sleep(10)
  }
}

/** A process that exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

export const untilGone = (pid: number, what = `process ${pid} gone`): Promise<true> => until(what, () => !isAlive(pid))

export const untilFile = (path: string): Promise<string> =>
  until(`file ${path}`, () => (existsSync(path) ? readFileSync(path, 'utf8') || undefined : undefined))

/** The pids of a process's children (every thread's), empty once it has none or is gone. */
export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) => readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number))
  } catch {
    return []
  }
}
