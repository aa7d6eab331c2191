// A cross-process lock (a directory made with mkdir, which is atomic), so that concurrent
// read-modify-write cycles of one file never lose an edit. A lock left by a dead process is taken over.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

const OWNER_FILE = 'owner'

function ownerAlive(lockDir: string): boolean {
  let pid: number
  try {
    pid = Number(readFileSync(`${lockDir}/${OWNER_FILE}`, 'utf8'))
  } catch {
    // being created right now, unless its maker died between mkdir and writing its pid
    try {
      return Date.now() - statSync(lockDir).mtimeMs < 5000
    } catch {
      return true
    }
  }
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface LockOptions {
  timeoutMs?: number
  /** Called each time the lock was found held by a live owner, before waiting again. */
  onWait?: () => void
}

export async function withLock<T>(lockDir: string, work: () => Promise<T> | T, { timeoutMs = 30_000, onWait }: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let staleChecks = 0
  for (;;) {
    try {
      mkdirSync(lockDir)
      writeFileSync(`${lockDir}/${OWNER_FILE}`, String(process.pid))
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    // a dead owner, seen twice in a row (not a lock being made at this instant), is removed
    if (!ownerAlive(lockDir)) {
      if (++staleChecks >= 2) rmSync(lockDir, { recursive: true, force: true })
    } else {
      staleChecks = 0
      onWait?.()
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockDir}`)
    await sleep(5 + Math.random() * 20)
  }
  try {
    return await work()
  } finally {
    rmSync(lockDir, { recursive: true, force: true })
  }
}
