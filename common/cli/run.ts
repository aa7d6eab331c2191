// The one place where a command's errors become Qubes' single stderr line and exit code.
import { Command, CommanderError } from 'commander'
import { packageVersion } from './version.js'

/** Reports an error as `<prog>: error: <message>` and sets exit code 1. */
export function reportError(prog: string, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err)
  process.stderr.write(`${prog}: error: ${message.split('\n')[0]}\n`)
  process.exitCode = 1
}

/**
 * Ends a one-shot command that is done, without node's teardown of its heap: at a natural exit
 * node frees every page of it, ~50 ms of a 500-VM `apply` (a full load holds every VM's rules).
 * Only when stdout and stderr hold nothing unwritten (on Linux they write files and pipes
 * synchronously, so they do not); the exit code stays process.exitCode, and 'exit' handlers run.
 */
export function exitWhenFlushed(): void {
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit()
}

/** A reader that went away (`| head`) ends the command quietly, as SIGPIPE ends C tools; not with a stack trace. */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(process.exitCode ?? 0)
  })
}

/**
 * Runs a commander program: its own usage errors and our errors alike end as one line
 * `<prog>: error: ...` with exit code 1 (help and --version exit 0). A program with subcommands
 * run without one prints its help (exit 1).
 */
export async function runProgram(program: Command, argv: readonly string[] = process.argv): Promise<void> {
  quietOnClosedPipe()
  const prog = program.name()
  program.version(packageVersion(), '--version', 'print the version and exit')
  const silence = (cmd: Command): void => {
    cmd.exitOverride()
    cmd.configureOutput({ writeErr: (s) => (/^error: |^Usage:/.test(s) ? undefined : process.stderr.write(s)), outputError: () => {} })
    cmd.commands.forEach(silence)
  }
  silence(program)
  try {
    await program.parseAsync(argv as string[])
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return
      if (err.code === 'commander.help') {
        process.stdout.write(program.helpInformation())
        process.exitCode = 1
        return
      }
      reportError(prog, new Error(err.message.replace(/^error: /, '')))
      return
    }
    reportError(prog, err)
  }
}
