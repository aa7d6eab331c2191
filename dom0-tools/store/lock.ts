// A cross-process lock (a directory made with mkdir, which is atomic), so that concurrent
// read-modify-write cycles of one file never lose an edit. A lock left by a dead process is taken over.
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { processStartTime } from '../../common/process-start.js'

const OWNER_FILE = 'owner'

/** What a lock records of its owner: "PID START". */
function ownerRecord(pid: number): string {
  return `${pid} ${processStartTime(pid) ?? '?'}`
}

/** Whether the lock's owner lives, and the record that says who it is ('' while it is being made). */
function ownerState(lockDir: string): { alive: boolean; record: string } {
  let untrustedRecord: string
  try {
    untrustedRecord = readFileSync(`${lockDir}/${OWNER_FILE}`, 'utf8')
  } catch {
    // being made right now (the record comes in whole, renamed in), unless its maker died before
    return { alive: madeLately(lockDir), record: '' }
  }
  const [pidText = '', start] = untrustedRecord.trim().split(' ')
  const pid = Number(pidText)
  if (!Number.isInteger(pid) || pid <= 0) return { alive: false, record: untrustedRecord }
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return { alive: false, record: untrustedRecord }
  }
  // the pid lives, but is it still the owner? (after a crash, an unrelated process may have it now)
  return { alive: start === undefined || start === '?' || start === processStartTime(pid), record: untrustedRecord }
}

function madeLately(lockDir: string): boolean {
  try {
    return Date.now() - statSync(lockDir).mtimeMs < 5000
  } catch {
    return true
  }
}

/** The lock is ours once its record is in: written aside and renamed in, so that no one reads it half-written. */
function takeLock(lockDir: string): void {
  mkdirSync(lockDir)
  const aside = `${lockDir}/${OWNER_FILE}.${process.pid}`
  writeFileSync(aside, ownerRecord(process.pid))
  renameSync(aside, `${lockDir}/${OWNER_FILE}`)
}

export interface LockOptions {
  timeoutMs?: number
  /** Called each time the lock was found held by a live owner, before waiting again. */
  onWait?: () => void
}

export async function withLock<T>(lockDir: string, work: () => Promise<T> | T, { timeoutMs = 30_000, onWait }: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let deadRecord: string | undefined
  for (;;) {
    try {
      takeLock(lockDir)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    // a dead owner, the same one seen twice in a row (not a lock made or released meanwhile), is removed
    const owner = ownerState(lockDir)
    if (!owner.alive) {
      if (deadRecord === owner.record) rmSync(lockDir, { recursive: true, force: true })
      deadRecord = owner.record
    } else {
      deadRecord = undefined
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
