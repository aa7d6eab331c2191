// The bindings qvm-connect-tcp started, one record per local port in a private state directory,
// so `--list` and `--stop` find them. A record names its process by pid and start time, so a
// reused pid is never taken for a binding.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { atomicWriteFile } from '../../common/atomic-write.js'
import { processStartTime } from '../../common/process-start.js'
import { formatBinding, parseBinding, type Binding } from './binding.js'

export interface BindingRecord {
  readonly binding: Binding
  readonly pid: number
  /** /proc/<pid>/stat field 22 (start time in clock ticks since boot) */
  readonly startTime: string
  /** ISO time the binding started listening */
  readonly started: string
  /** where a background binding writes its log; undefined in the foreground */
  readonly log: string | undefined
}

export class StateError extends Error {
  override name = 'StateError'
}

/** $XDG_RUNTIME_DIR/qvm-connect-tcp, /run/qvm-connect-tcp for root, /run/user/<uid>/..., else the temp dir. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  const runtime = env['XDG_RUNTIME_DIR']
  if (runtime !== undefined && runtime !== '') return join(runtime, 'qvm-connect-tcp')
  if (uid === 0) return '/run/qvm-connect-tcp'
  if (existsSync(`/run/user/${uid}`)) return `/run/user/${uid}/qvm-connect-tcp`
  return join(tmpdir(), `qvm-connect-tcp-${uid}`)
}

/** Creates the directory 0700; refuses one that is not ours alone (a shared temp dir). */
export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const stat = lstatSync(dir)
  const uid = process.getuid?.()
  if (!stat.isDirectory()) throw new StateError(`state directory ${dir} is not a directory`)
  if (uid !== undefined && stat.uid !== uid) throw new StateError(`state directory ${dir} belongs to uid ${stat.uid}, not ${uid}`)
  if ((stat.mode & 0o022) !== 0) throw new StateError(`state directory ${dir} is writable by others`)
}

const RECORD_FILE = /^([1-9][0-9]{0,4})\.json$/

export function recordPath(dir: string, localPort: number): string {
  return join(dir, `${localPort}.json`)
}

export function logFilePath(dir: string, localPort: number): string {
  return join(dir, `${localPort}.log`)
}

export function isRunning(record: BindingRecord): boolean {
  return processStartTime(record.pid) === record.startTime
}

export function writeRecord(dir: string, record: BindingRecord): void {
  const { binding, ...rest } = record
  atomicWriteFile(recordPath(dir, binding.localPort), `${JSON.stringify({ binding: formatBinding(binding), ...rest })}\n`, 0o600)
}

/** Removes the record of `localPort` if it is still `pid`'s (a newer binding keeps its own). */
export function removeRecord(dir: string, localPort: number, pid: number): void {
  const record = readRecord(dir, localPort)
  if (record === undefined || record.pid === pid) rmSync(recordPath(dir, localPort), { force: true })
}

function parseRecord(untrustedText: string): BindingRecord | undefined {
  try {
    const untrusted = JSON.parse(untrustedText) as Record<string, unknown>
    const { binding, pid, startTime, started, log } = untrusted
    if (typeof binding !== 'string' || !Number.isSafeInteger(pid) || typeof startTime !== 'string' || typeof started !== 'string') return undefined
    if (log !== undefined && typeof log !== 'string') return undefined
    return { binding: parseBinding(binding), pid: pid as number, startTime, started, log }
  } catch {
    return undefined
  }
}

export function readRecord(dir: string, localPort: number): BindingRecord | undefined {
  try {
    return parseRecord(readFileSync(recordPath(dir, localPort), 'utf8'))
  } catch {
    return undefined
  }
}

/** The running bindings, by local port; records of bindings that are gone are removed. */
export function listRecords(dir: string): BindingRecord[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const records: BindingRecord[] = []
  for (const name of names) {
    const match = RECORD_FILE.exec(name)
    if (match === null) continue
    const record = readRecord(dir, Number(match[1]))
    if (record !== undefined && isRunning(record)) records.push(record)
    else rmSync(join(dir, name), { force: true })
  }
  return records.sort((a, b) => a.binding.localPort - b.binding.localPort)
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopRecord(dir: string, record: BindingRecord, graceMs = 5000): Promise<void> {
  if (isRunning(record)) {
    process.kill(record.pid, 'SIGTERM')
    const deadline = Date.now() + graceMs
    while (isRunning(record) && Date.now() < deadline) await sleep(25)
    if (isRunning(record)) process.kill(record.pid, 'SIGKILL')
    while (isRunning(record)) await sleep(25)
  }
  removeRecord(dir, record.binding.localPort, record.pid)
}
