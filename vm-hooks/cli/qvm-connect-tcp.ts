// qvm-connect-tcp: Qubes' command (same argument forms and messages), listening on 127.0.0.1
// only, with --list/--stop for the bindings it started and --persist for the systemd units.
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, Option } from 'commander'
import { runProgram } from '../../common/cli/run.js'
import { UsageError } from '../../common/errors.js'
import { layoutTable } from '../../common/table.js'
import { parsePort } from '../../common/rule/port.js'
import { shown } from '../../common/untrusted-text.js'
import { BindingError, CONNECT_TCP_PORT, USAGE, formatBinding, parseBinding, type Binding } from '../connect-tcp/binding.js'
import { LISTEN_HOST, listenBinding, qrexecClientProgram } from '../connect-tcp/listen.js'
import { DEFAULT_RW_DIR, persist, unpersist, unitNames, type PersistReport } from '../connect-tcp/persist.js'
import {
  defaultStateDir,
  ensureStateDir,
  listRecords,
  logFilePath,
  processStartTime,
  readRecord,
  removeRecord,
  stopRecord,
  writeRecord,
  isRunning,
  type BindingRecord,
} from '../connect-tcp/state.js'

const PROG = 'qvm-connect-tcp'
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'qvm-connect-tcp.js')
// how long a background binding may take to listen (or fail) before we give up on it
const START_TIMEOUT_MS = 10_000

export const EPILOG = `
Bind localport to another VM port using the qubes.ConnectTCP RPC service.

  ${USAGE}   e.g. 444:@default:444, ::444 (localport = port, vmname =
                 @default), 10444:mytcp-service:444

Listens on ${LISTEN_HOST}:LOCALPORT only. For each connection it runs
  $QREXEC_CLIENT_VM VMNAME qubes.ConnectTCP+PORT      (default: qrexec-client-vm, on PATH)
with the connection as its stdin and stdout; dom0's policy for qubes.ConnectTCP
decides (an empty VMNAME or @default: the policy's target=). When that program
cannot run or exits, the connection is closed; the binding keeps listening.

Without --foreground the binding runs in the background (as Qubes' command does)
and the command returns once it listens. Bindings are recorded in the state
directory (--state-dir, default $XDG_RUNTIME_DIR/qvm-connect-tcp, for root
/run/qvm-connect-tcp); a background binding logs to <state-dir>/<localport>.log.
No sudo: ports from 1024 up need no privilege, lower ones need root.

  --list                          LOCALPORT VMNAME PORT PID of every running binding
  --stop 444 | --stop all         SIGTERM the binding on local port 444 (or every one)
  --persist 444:@default:444      write <rw-dir>/qvm-connect-tcp/qvm-connect-tcp-444.socket
                                  and qvm-connect-tcp-444@.service (ListenStream=127.0.0.1:444,
                                  Accept=true, ExecStart=qrexec-client-vm '@default'
                                  qubes.ConnectTCP+444) and a block in <rw-dir>/rc.local
                                  that copies them to /run/systemd/system and starts the
                                  socket at every boot; running it again replaces the block
  --unpersist 444                 remove what --persist wrote for local port 444
`

interface Options {
  foreground?: boolean
  list?: boolean
  stop?: string
  persist?: boolean
  unpersist?: string
  rwDir?: string
  stateDir?: string
}

function localPortArgument(option: string, untrusted: string): number {
  const port = parsePort(untrusted, CONNECT_TCP_PORT)
  if (port === undefined) throw new UsageError(`${option}: Invalid port provided: '${shown(untrusted)}' (expected 1-65535)`)
  return port
}

function only(opts: Options, spec: string | undefined, mode: keyof Options): void {
  const modes = (['list', 'stop', 'persist', 'unpersist', 'foreground'] as const).filter((key) => opts[key] !== undefined && opts[key] !== false)
  const others = modes.filter((m) => m !== mode)
  if (others.length > 0) throw new UsageError(`--${mode} cannot be combined with --${others[0]}`)
  const wantsSpec = mode === 'persist' || mode === 'foreground'
  if (wantsSpec && spec === undefined) throw new UsageError(`--${mode} needs ${USAGE}`)
  if (!wantsSpec && spec !== undefined) throw new UsageError(`--${mode} takes no ${USAGE}`)
}

function bindingOf(untrustedSpec: string): Binding {
  try {
    return parseBinding(untrustedSpec)
  } catch (err) {
    if (err instanceof BindingError) throw new UsageError(err.message)
    throw err
  }
}

function bindingMessage(binding: Binding): string {
  return `Binding TCP '${binding.vm}:${binding.port}' to 'localhost:${binding.localPort}'...`
}

function formatRecords(records: readonly BindingRecord[]): string {
  const rows = records.map((r) => [String(r.binding.localPort), r.binding.vm, String(r.binding.port), String(r.pid)])
  return layoutTable([['LOCALPORT', 'VMNAME', 'PORT', 'PID'], ...rows])
}

function formatPersist(report: PersistReport): string {
  const lines = [...report.written.map((path) => `wrote ${path}`), ...report.removed.map((path) => `removed ${path}`)]
  const rc = {
    added: 'added the lines that install and start it at boot',
    updated: 'updated the lines that install and start it at boot',
    unchanged: 'already installs and starts it at boot',
    removed: 'removed its lines',
  }[report.rcLocalChange]
  lines.push(`${report.rcLocal}: ${report.rcLocalChange === 'unchanged' && report.removed.length > 0 ? 'had no lines for it' : rc}`)
  if (report.madeExecutable) lines.push(`${report.rcLocal}: made executable (it runs only then)`)
  return lines.map((line) => `${line}\n`).join('')
}

/** Tells the command that started this binding in the background how it went (no-op otherwise). */
async function tellStarter(message: { ready: true } | { error: string }): Promise<void> {
  if (!process.connected || process.send === undefined) return
  // disconnect only once the message is out, or it may be lost
  await new Promise<void>((resolve) => process.send?.(message, undefined, {}, () => resolve()))
  if (process.connected) process.disconnect()
}

/** Serves in this process until SIGTERM/SIGINT, recorded in the state directory meanwhile. */
async function serveForeground(binding: Binding, stateDir: string, log: string | undefined): Promise<void> {
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

/** Starts this command with --foreground, detached, and returns once it listens (or failed). */
async function startBackground(binding: Binding, stateDir: string): Promise<BindingRecord> {
  const logPath = logFilePath(stateDir, binding.localPort)
  const log = openSync(logPath, 'a', 0o600)
  const child = spawn(process.execPath, [BIN, '--foreground', '--state-dir', stateDir, '--log-file', logPath, formatBinding(binding)], {
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
  })
  closeSync(log)
  const outcome = await new Promise<{ ready: true } | { error: string }>((resolve) => {
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

async function stop(stateDir: string, untrustedWhich: string): Promise<void> {
  const localPort = untrustedWhich === 'all' ? undefined : localPortArgument('--stop', untrustedWhich)
  const records = listRecords(stateDir)
  const chosen = localPort === undefined ? records : records.filter((r) => r.binding.localPort === localPort)
  if (chosen.length === 0 && localPort !== undefined) throw new UsageError(`no binding on local port ${localPort} (see --list)`)
  for (const record of chosen) {
    await stopRecord(stateDir, record)
    process.stdout.write(`stopped ${formatBinding(record.binding)} (pid ${record.pid})\n`)
  }
}

export function buildProgram(): Command {
  return new Command(PROG)
    .description('bind a local TCP port to a port of another qube, through qrexec (qubes.ConnectTCP)')
    .argument('[binding]', USAGE)
    .option('--foreground', 'serve in this process until SIGTERM or SIGINT (for systemd, or a terminal)')
    .option('--list', 'list the running bindings')
    .option('--stop <localport>', 'stop the binding on this local port, or "all"')
    .option('--persist', 'write the systemd .socket/@.service pair and rc.local lines instead of binding now')
    .option('--unpersist <localport>', 'remove what --persist wrote for this local port')
    .option('--rw-dir <dir>', 'for --persist/--unpersist: the qube\'s persistent config directory', DEFAULT_RW_DIR)
    .option('--state-dir <dir>', 'where running bindings are recorded (default $XDG_RUNTIME_DIR/qvm-connect-tcp)')
    // set by a background start: where the binding's output goes (kept in its record)
    .addOption(new Option('--log-file <path>').hideHelp())
    .addHelpText('after', EPILOG)
    .action(async (untrustedSpec: string | undefined, opts: Options & { logFile?: string }) => {
      const stateDir = opts.stateDir ?? defaultStateDir()
      if (opts.list === true) {
        only(opts, untrustedSpec, 'list')
        process.stdout.write(formatRecords(listRecords(stateDir)))
      } else if (opts.stop !== undefined) {
        only(opts, untrustedSpec, 'stop')
        await stop(stateDir, opts.stop)
      } else if (opts.unpersist !== undefined) {
        only(opts, untrustedSpec, 'unpersist')
        process.stdout.write(formatPersist(unpersist(localPortArgument('--unpersist', opts.unpersist), opts.rwDir ?? DEFAULT_RW_DIR)))
      } else if (untrustedSpec === undefined) {
        throw new UsageError(`Usage: ${PROG} ${USAGE}`)
      } else if (opts.persist === true) {
        only(opts, untrustedSpec, 'persist')
        const binding = bindingOf(untrustedSpec)
        const report = persist(binding, opts.rwDir ?? DEFAULT_RW_DIR)
        process.stdout.write(formatPersist(report))
        process.stdout.write(`${unitNames(binding.localPort).socket} starts at the next boot (or run ${report.rcLocal} now)\n`)
      } else {
        if (opts.foreground === true) only(opts, untrustedSpec, 'foreground')
        const binding = bindingOf(untrustedSpec)
        ensureStateDir(stateDir)
        const existing = readRecord(stateDir, binding.localPort)
        if (existing !== undefined && isRunning(existing)) {
          throw new UsageError(`local port ${binding.localPort} is already bound to ${existing.binding.vm}:${existing.binding.port} (pid ${existing.pid}; --stop ${binding.localPort} first)`)
        }
        if (opts.foreground === true) {
          process.stdout.write(`${bindingMessage(binding)}\n`)
          try {
            await serveForeground(binding, stateDir, opts.logFile)
          } catch (err) {
            // a background start prints the reason as its one error line
            await tellStarter({ error: err instanceof Error ? err.message : String(err) })
            throw err
          }
        } else {
          const record = await startBackground(binding, stateDir)
          process.stdout.write(`${bindingMessage(binding)} (pid ${record.pid}, log ${record.log ?? '-'})\n`)
        }
      }
    })
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
  if (process.connected) process.disconnect()
}
