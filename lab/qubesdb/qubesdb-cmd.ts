// The lab's qubesdb-cmd: run by lab/qubesdb-bin/qubesdb-cmd (and its links qubesdb-read, ...) as
// `node qubesdb-cmd.js "$0" ARG...`. It serves the QubesDB in the directory $QUBESDB_DIR with the
// real tools' options, output and exit codes. Only node: built-ins, to start fast: the agent runs
// one of these per QubesDB access.
import { readFileSync, writeSync } from 'node:fs'
import { basename, join } from 'node:path'
import { list, multiread, read, rm, write } from './commands.js'
import { parseCommandLine, type Command } from './options.js'
import { bufferingOf, Stdout } from './output.js'
import { EXIT_FAILED, type Session } from './session.js'
import { QubesDbStore } from './store.js'
import { watch } from './watch.js'
import { LAB_DIR } from '../topology.js'

/**
 * Our arguments as bytes (latin1 strings), from /proc/self/cmdline: Node decodes argv as UTF-8,
 * which would alter a value that is not UTF-8. They are its last words, however Node was started.
 */
function rawArguments(): string[] {
  const decoded = process.argv.slice(2)
  try {
    const words = readFileSync('/proc/self/cmdline').toString('latin1').split('\0').slice(0, -1)
    if (words.length >= decoded.length + 2) return words.slice(words.length - decoded.length)
  } catch {
    // not Linux: UTF-8 it is
  }
  return decoded.map((word) => Buffer.from(word).toString('latin1'))
}

const toStderr = (text: string): void => void writeSync(2, Buffer.from(text, 'latin1'))

const RUN: Record<Command, (session: Session, operands: readonly string[]) => number | Promise<number>> = {
  read,
  multiread,
  list,
  write,
  rm,
  watch,
}

/**
 * The store served: this VM's ($QUBESDB_DIR), or with `-d NAME`, as dom0 reaches a qube's daemon,
 * NAME's under $QUBESDB_DOMAINS_DIR (default: the running lab's, <lab dir>/qubesdb).
 */
function storeDir(domain: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (domain === undefined) return env['QUBESDB_DIR']
  const domains = env['QUBESDB_DOMAINS_DIR'] ?? join(LAB_DIR, 'qubesdb')
  return /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/.test(domain) ? join(domains, domain) : undefined
}

async function main([invokedAs = 'qubesdb-cmd', ...args]: readonly string[]): Promise<number> {
  // as run from PATH, as everyone runs the real one: its argv[0] is then the bare name
  const argv0 = basename(invokedAs)
  const commandLine = parseCommandLine(argv0, args, process.env)
  if (commandLine.kind === 'exit') {
    toStderr(commandLine.stderr)
    return commandLine.code
  }
  const { command, options, operands } = commandLine
  const store = QubesDbStore.open(storeDir(options.domain, process.env))
  if (!store) {
    if (!options.quiet) toStderr(`Failed connect to ${options.domain ?? 'local'} daemon\n`)
    return EXIT_FAILED
  }
  const out = new Stdout(1, bufferingOf(process.env, 1))
  const session: Session = {
    store,
    out,
    options,
    complain: (line) => void (options.quiet || toStderr(`${line}\n`)),
    say: (line) => toStderr(`${line}\n`),
  }
  const code = await RUN[command](session, operands)
  // what stdio does at exit; a signal (the usual end of a watch) loses it, as it does there
  out.flush()
  return out.failed ? EXIT_FAILED : code
}

try {
  process.exit(await main(rawArguments()))
} catch (err) {
  toStderr(`qubesdb-cmd: ${(err as Error).message}\n`)
  process.exit(EXIT_FAILED)
}
