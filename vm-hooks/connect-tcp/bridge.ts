// One connection of a binding: the qrexec client runs with the connection as its stdin and stdout.
// Each direction ends on its own (half-close), and when the program exits (or cannot run) the
// connection is closed once what it wrote is delivered.
import { spawn, type ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import { finished } from 'node:stream/promises'

export interface BridgeOutcome {
  /** the program's exit code; undefined when it could not run or was killed */
  readonly exitCode: number | undefined
  readonly signal: string | undefined
  /** why the program could not run (ENOENT, EACCES ...), when it could not */
  readonly spawnError: string | undefined
  /** we ended it: its connection was gone (or the listener stopped) */
  readonly killed: boolean
}

export interface Bridge {
  /** settles once the program is gone and the connection closed */
  readonly done: Promise<BridgeOutcome>
  /** ends the connection and the program (listener shut down) */
  stop(): void
}

// what the program printed after it exited is delivered at most this long, then the connection goes
const DRAIN_MS = 2000
// a program whose connection ended both ways normally gets this long to exit by itself
const EXIT_GRACE_MS = 2000

export function bridge(socket: Socket, program: string, args: readonly string[]): Bridge {
  const subprocess = spawn(program, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const { stdin, stdout } = subprocess
  // a program that cannot run says so with 'error' (and never 'exit')
  let spawnError: string | undefined
  const failedToRun = new Promise<void>((resolve) =>
    subprocess.once('error', (err: NodeJS.ErrnoException) => {
      spawnError = err.code ?? err.message
      resolve()
    }),
  )
  // EPIPE when the program exits before reading everything: the exit is what counts
  stdin?.on('error', () => {})
  stdout?.on('error', () => {})
  if (stdin !== null) socket.pipe(stdin)
  // the program closed its output: the client gets FIN and may still send (half-close)
  if (stdout !== null) stdout.pipe(socket)
  socket.on('error', () => socket.destroy())
  let killed = false
  const gone = () => subprocess.exitCode !== null || subprocess.signalCode !== null
  // SIGTERM first; a program that ignores it gets SIGKILL: none is left piling up
  const kill = () => {
    if (gone()) return
    killed = true
    subprocess.kill('SIGTERM')
    setTimeout(() => gone() || subprocess.kill('SIGKILL'), EXIT_GRACE_MS).unref()
  }
  // the client went away: at once after a reset; after both directions ended, once the program
  // had its chance to exit by itself (it usually is about to)
  socket.once('close', (hadError) => {
    if (hadError) kill()
    else setTimeout(kill, EXIT_GRACE_MS).unref()
  })

  const done = endWithProgram(subprocess, socket, failedToRun).then(
    (): BridgeOutcome => ({ exitCode: subprocess.exitCode ?? undefined, signal: subprocess.signalCode ?? undefined, spawnError, killed }),
  )
  return {
    done,
    stop: () => {
      socket.destroy()
      kill()
    },
  }
}

/**
 * Settles once the program exited (or could not run) and the connection is closed. 'close' comes
 * once the output pipe closes too, which a process the program left behind may hold: the program's
 * exit is what ends the connection.
 */
async function endWithProgram(subprocess: ChildProcess, socket: Socket, failedToRun: Promise<void>): Promise<void> {
  const { stdin, stdout } = subprocess
  const settled = Promise.race([new Promise<void>((resolve) => subprocess.once('close', () => resolve())), failedToRun])
  const exited = new Promise<void>((resolve) => subprocess.once('exit', () => resolve()))
  await Promise.race([settled, exited, failedToRun])
  // what it wrote before exiting is delivered (for at most DRAIN_MS)
  if (stdout !== null && !socket.destroyed) {
    await Promise.race([settled, finished(stdout).catch(() => {}), new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref())])
  }
  if (stdin !== null) socket.unpipe(stdin)
  if (stdout !== null) stdout.unpipe(socket)
  await closeSocket(socket)
  // our ends of its pipes go too (what it left behind gets EPIPE, not a reader forever)
  stdin?.destroy()
  stdout?.destroy()
}

/**
 * FIN after what is queued; what the client still sends is read and dropped until it closes too
 * (closing with unread data would send it a reset), for at most DRAIN_MS.
 */
async function closeSocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return
  socket.resume()
  socket.end()
  await Promise.race([new Promise((resolve) => socket.once('close', resolve)), new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref())])
  socket.destroy()
}

/** What went wrong with the program, if anything did (ending it ourselves is not wrong). */
export function describeOutcome(program: string, outcome: BridgeOutcome): string | undefined {
  if (outcome.killed) return undefined
  if (outcome.spawnError !== undefined) return `cannot run ${program}: ${outcome.spawnError}`
  if (outcome.signal !== undefined) return `${program} killed by ${outcome.signal}`
  if (outcome.exitCode !== undefined && outcome.exitCode !== 0) return `${program} exited with code ${outcome.exitCode}`
  return undefined
}
