// QubesDB through the qubesdb-cmd tools that every Qubes VM and dom0 have on PATH (qubesdb-read,
// -multiread, -list, -write, -rm), their output parsed once here into typed values. What QubesDB
// holds was written from users' input: values stay untrusted text for the push parser.
import { runCommand, type CommandResult } from '../run-command.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../untrusted-text.js'

export interface QubesDb {
  /** The value, or undefined when the path does not exist. */
  read(path: string): Promise<string | undefined>
  /** Every entry whose path starts with `prefix`, by full path. */
  multiread(prefix: string): Promise<Map<string, string>>
  /** Every path that starts with `prefix`. */
  list(prefix: string): Promise<string[]>
  write(path: string, value: string): Promise<void>
  /** Several entries with one command, written in the order given (as `qubesdb-write P1 V1 P2 V2`). */
  writeAll(entries: readonly (readonly [path: string, value: string])[]): Promise<void>
  /** A path ending with '/' removes everything below it. */
  rm(path: string): Promise<void>
  /** Several paths with one command (`qubesdb-rm P1 P2`). */
  rmAll(paths: readonly string[]): Promise<void>
}

export class QubesDbError extends Error {
  override name = 'QubesDbError'
}

// a QubesDB command answers at once; one that does not is stuck, and the caller says so
const COMMAND_TIMEOUT_MS = 30_000
/** qubesdb-read's exit code for a path that does not exist. */
const NOT_FOUND = 2

function failed(command: string, path: string, result: CommandResult): QubesDbError {
  const detail = result.stderr.trim().split('\n')[0] || result.failure || `exit code ${result.exitCode}`
  return new QubesDbError(`${command} ${path}: ${shown(detail, UNTRUSTED_KEY_LIMIT)}`)
}

/**
 * `qubesdb-multiread -r` prints `SUBPATH = VALUE` a line, values raw: a value with a newline in it
 * would make a line of its own, so a line without ` = ` or a path seen twice is refused, never
 * guessed at (the caller then fails the VM closed).
 */
export function parseMultiread(prefix: string, output: string): Map<string, string> {
  const entries = new Map<string, string>()
  const lines = output.endsWith('\n') ? output.slice(0, -1).split('\n') : output.split('\n')
  if (output === '') return entries
  for (const line of lines) {
    const separator = line.indexOf(' = ')
    if (separator < 0) throw new QubesDbError(`qubesdb-multiread ${prefix}: malformed line '${shown(line)}' (a value with a newline?)`)
    const path = prefix + line.slice(0, separator)
    if (entries.has(path)) throw new QubesDbError(`qubesdb-multiread ${prefix}: ${shown(path, UNTRUSTED_KEY_LIMIT)} twice (a value with a newline?)`)
    entries.set(path, line.slice(separator + 3))
  }
  return entries
}

/**
 * The tools on PATH: this VM's own QubesDB, or in dom0 `domain`'s (their `-d`). The environment is
 * inherited (the lab's stand-in finds its store there).
 */
export function qubesDbTools(domain?: string): QubesDb {
  const target = domain === undefined ? [] : ['-d', domain]
  const run = (tool: string, args: readonly string[]) => runCommand(tool, [...target, ...args], { timeoutMs: COMMAND_TIMEOUT_MS })
  return {
    async read(path) {
      const result = await run('qubesdb-read', ['-r', path])
      if (result.exitCode === NOT_FOUND) return undefined
      if (result.exitCode !== 0) throw failed('qubesdb-read', path, result)
      // -r prints the value and a newline
      return result.stdout.endsWith('\n') ? result.stdout.slice(0, -1) : result.stdout
    },
    async multiread(prefix) {
      const result = await run('qubesdb-multiread', ['-r', prefix])
      if (result.exitCode !== 0) throw failed('qubesdb-multiread', prefix, result)
      return parseMultiread(prefix, result.stdout)
    },
    async list(prefix) {
      const result = await run('qubesdb-list', [prefix])
      if (result.exitCode !== 0) throw failed('qubesdb-list', prefix, result)
      return result.stdout.split('\n').filter((line) => line !== '').map((sub) => prefix + sub)
    },
    async write(path, value) {
      await this.writeAll([[path, value]])
    },
    async writeAll(entries) {
      if (entries.length === 0) return
      // '--': getopt would read a value that starts with '-' as options
      const result = await run('qubesdb-write', ['--', ...entries.flat()])
      if (result.exitCode !== 0) throw failed('qubesdb-write', entries[0]?.[0] ?? '', result)
    },
    async rm(path) {
      await this.rmAll([path])
    },
    async rmAll(paths) {
      if (paths.length === 0) return
      const result = await run('qubesdb-rm', ['--', ...paths])
      if (result.exitCode !== 0) throw failed('qubesdb-rm', paths[0] ?? '', result)
    },
  }
}
