// The bindings this command runs in the background: start one (this command again with
// --foreground, detached, answering over IPC once it listens), list them, and stop them.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UsageError } from '../../common/errors.js'
import { layoutTable } from '../../common/table.js'
import { localPortArgument } from './args.js'
import { formatBinding, type Binding } from './binding.js'
import { listRecords, logFilePath, readRecord, stopRecord, type BindingRecord } from './state.js'

// the command's entry file, as in dist/ and in the packages' bin/ (both one folder below the root)
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'qvm-connect-tcp.js')
// how long a background binding may take to listen (or fail) before we give up on it
const START_TIMEOUT_MS = 10_000

type StartOutcome = { ready: true } | { error: string }

/** What the child says first: it listens, it failed (and why), or it exited or never answered. */
function firstAnswer(child: ChildProcess, logPath: string): Promise<StartOutcome> {
  return new Promise<StartOutcome>((resolve) => {
    const timer = setTimeout(() => resolve({ error: `no answer within ${START_TIMEOUT_MS / 1000} s (see ${logPath})` }), START_TIMEOUT_MS)
    child.once('message', (message: unknown) => {
      clearTimeout(timer)
      const m = message as { ready?: boolean; error?: unknown }
      resolve(m.ready === true ? { ready: true } : { error: String(m.error) })
    })
    child.once('exit', (code) => {
      // its reason, sent just before, may still be on the way
      setTimeout(() => {
        clearTimeout(timer)
        resolve({ error: `the binding exited (code ${code}; see ${logPath})` })
      }, 100)
    })
    child.once('error', (err) => resolve({ error: err.message }))
  })
}

/** Starts this command with --foreground, detached, and returns once it listens (or failed). */
export async function startBackground(binding: Binding, stateDir: string): Promise<BindingRecord> {
  const logPath = logFilePath(stateDir, binding.localPort)
  const log = openSync(logPath, 'a', 0o600)
  const child = spawn(process.execPath, [BIN, '--foreground', '--state-dir', stateDir, '--log-file', logPath, formatBinding(binding)], {
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
  })
  closeSync(log)
  const outcome = await firstAnswer(child, logPath)
  if ('error' in outcome) {
    if (child.exitCode === null) child.kill('SIGTERM')
    throw new Error(outcome.error)
  }
  child.disconnect()
  child.unref()
  const record = readRecord(stateDir, binding.localPort)
  if (record === undefined || record.pid !== child.pid) throw new Error(`the binding started but left no record in ${stateDir}`)
  return record
}

/** --list: LOCALPORT VMNAME PORT PID of every running binding. */
export function formatRecords(records: readonly BindingRecord[]): string {
  const rows = records.map((r) => [String(r.binding.localPort), r.binding.vm, String(r.binding.port), String(r.pid)])
  return layoutTable([['LOCALPORT', 'VMNAME', 'PORT', 'PID'], ...rows])
}

/** --stop LOCALPORT or --stop all: SIGTERM the chosen bindings, one line each. */
export async function stopBindings(stateDir: string, untrustedWhich: string): Promise<void> {
  const localPort = untrustedWhich === 'all' ? undefined : localPortArgument('--stop', untrustedWhich)
  const records = listRecords(stateDir)
  const chosen = localPort === undefined ? records : records.filter((r) => r.binding.localPort === localPort)
  if (chosen.length === 0 && localPort !== undefined) throw new UsageError(`no binding on local port ${localPort} (see --list)`)
  for (const record of chosen) {
    await stopRecord(stateDir, record)
    process.stdout.write(`stopped ${formatBinding(record.binding)} (pid ${record.pid})\n`)
  }
}
