// A binding served in this process (--foreground, or the child of a background start): listen,
// record it in the state directory, tell the starter, and serve until SIGTERM/SIGINT/SIGHUP.
import { formatBinding, type Binding } from './binding.js'
import { PROG } from './args.js'
import { LISTEN_HOST, listenBinding, qrexecClientProgram } from './listen.js'
import { processStartTime } from '../../common/process-start.js'
import { removeRecord, writeRecord } from './state.js'

/** Tells the command that started this binding in the background how it went (no-op otherwise). */
export async function tellStarter(message: { ready: true } | { error: string }): Promise<void> {
  if (!process.connected || process.send === undefined) return
  // disconnect only once the message is out, or it may be lost
  await new Promise<void>((resolve) => process.send?.(message, undefined, {}, () => resolve()))
  if (process.connected) process.disconnect()
}

/** Serves in this process until SIGTERM/SIGINT, recorded in the state directory meanwhile. */
export async function serveForeground(binding: Binding, stateDir: string, log: string | undefined): Promise<void> {
  const logLine = (line: string) => process.stderr.write(`${new Date().toISOString()} ${PROG} ${formatBinding(binding)}: ${line}\n`)
  const listening = await listenBinding(binding, { program: qrexecClientProgram(), log: logLine })
  const startTime = processStartTime(process.pid)
  if (startTime === undefined) throw new Error('cannot read this process\'s start time from /proc')
  writeRecord(stateDir, { binding, pid: process.pid, startTime, started: new Date().toISOString(), log })
  logLine(`listening on ${LISTEN_HOST}:${binding.localPort}`)
  await tellStarter({ ready: true })
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => resolve())
  })
  removeRecord(stateDir, binding.localPort, process.pid)
  await listening.close()
  logLine('stopped')
}
