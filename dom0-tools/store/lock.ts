// A cross-process lock (a directory made with mkdir, which is atomic), so that concurrent
// read-modify-write cycles of one file never lose an edit. A lock left by a dead process is taken over.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

const OWNER_FILE = 'owner'

/** A process's start time (clock ticks since boot, /proc/PID/stat field 22): with the pid, it names one process, whatever reuses the pid later. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** What a lock records of its owner: "PID START". */
function ownerRecord(pid: number): string {
  return `${pid} ${startTime(pid) ?? '?'}`
}

function ownerAlive(lockDir: string): boolean {
  let untrustedRecord: string
  try {
    untrustedRecord = readFileSync(`${lockDir}/${OWNER_FILE}`, 'utf8')
  } catch {
    // being created right now, unless its maker died between mkdir and writing its pid
    try {
      return Date.now() - statSync(lockDir).mtimeMs < 5000
    } catch {
      return true
    }
  }
  const [pidText = '', start] = untrustedRecord.trim().split(' ')
  const pid = Number(pidText)
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // the pid lives, but is it still the owner? (after a crash, an unrelated process may have it now)
  return start === undefined || start === '?' || start === startTime(pid)
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
      writeFileSync(`${lockDir}/${OWNER_FILE}`, ownerRecord(process.pid))
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
