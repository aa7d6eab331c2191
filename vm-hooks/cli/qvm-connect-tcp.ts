// qvm-connect-tcp: Qubes' command (same argument forms and messages), listening on 127.0.0.1
// only, with --list/--stop for the bindings it started and --persist for the systemd units.
// This file is the command line and its dispatch; the modes live in ../connect-tcp/ (args.ts:
// the words, background.ts: start/list/stop, foreground.ts: serving, persist.ts: the units).
import { Command, Option } from 'commander'
import { runProgram } from '../../common/cli/run.js'
import { UsageError } from '../../common/errors.js'
import { PROG, bindingOf, localPortArgument, only, type Options } from '../connect-tcp/args.js'
import { formatRecords, startBackground, stopBindings } from '../connect-tcp/background.js'
import { USAGE, type Binding } from '../connect-tcp/binding.js'
import { serveForeground, tellStarter } from '../connect-tcp/foreground.js'
import { LISTEN_HOST } from '../connect-tcp/listen.js'
import { DEFAULT_RW_DIR, persist, unpersist, unitNames, type PersistReport } from '../connect-tcp/persist.js'
import { defaultStateDir, ensureStateDir, isRunning, listRecords, readRecord } from '../connect-tcp/state.js'

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

type CommandOptions = Options & { logFile?: string }

function bindingMessage(binding: Binding): string {
  return `Binding TCP '${binding.vm}:${binding.port}' to 'localhost:${binding.localPort}'...`
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

/** --persist: the units and rc.local lines instead of a binding now. */
function persistBinding(untrustedSpec: string, opts: CommandOptions): void {
  only(opts, untrustedSpec, 'persist')
  const binding = bindingOf(untrustedSpec)
  const report = persist(binding, opts.rwDir ?? DEFAULT_RW_DIR)
  process.stdout.write(formatPersist(report))
  process.stdout.write(`${unitNames(binding.localPort).socket} starts at the next boot (or run ${report.rcLocal} now)\n`)
}

/** A binding now: served here with --foreground, else started in the background. */
async function bind(untrustedSpec: string, opts: CommandOptions, stateDir: string): Promise<void> {
  if (opts.foreground === true) only(opts, untrustedSpec, 'foreground')
  const binding = bindingOf(untrustedSpec)
  ensureStateDir(stateDir)
  const existing = readRecord(stateDir, binding.localPort)
  if (existing !== undefined && isRunning(existing)) {
    throw new UsageError(`local port ${binding.localPort} is already bound to ${existing.binding.vm}:${existing.binding.port} (pid ${existing.pid}; --stop ${binding.localPort} first)`)
  }
  if (opts.foreground !== true) {
    const record = await startBackground(binding, stateDir)
    process.stdout.write(`${bindingMessage(binding)} (pid ${record.pid}, log ${record.log ?? '-'})\n`)
    return
  }
  process.stdout.write(`${bindingMessage(binding)}\n`)
  try {
    await serveForeground(binding, stateDir, opts.logFile)
  } catch (err) {
    // a background start prints the reason as its one error line
    await tellStarter({ error: err instanceof Error ? err.message : String(err) })
    throw err
  }
}

/** One mode per run: --list, --stop, --unpersist, --persist, or a binding. */
async function run(untrustedSpec: string | undefined, opts: CommandOptions): Promise<void> {
  const stateDir = opts.stateDir ?? defaultStateDir()
  if (opts.list === true) {
    only(opts, untrustedSpec, 'list')
    process.stdout.write(formatRecords(listRecords(stateDir)))
  } else if (opts.stop !== undefined) {
    only(opts, untrustedSpec, 'stop')
    await stopBindings(stateDir, opts.stop)
  } else if (opts.unpersist !== undefined) {
    only(opts, untrustedSpec, 'unpersist')
    process.stdout.write(formatPersist(unpersist(localPortArgument('--unpersist', opts.unpersist), opts.rwDir ?? DEFAULT_RW_DIR)))
  } else if (untrustedSpec === undefined) {
    throw new UsageError(`Usage: ${PROG} ${USAGE}`)
  } else if (opts.persist === true) {
    persistBinding(untrustedSpec, opts)
  } else {
    await bind(untrustedSpec, opts, stateDir)
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
    .action(run)
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
  if (process.connected) process.disconnect()
}
