// qubesdb-cmd's command line, read as its getopt_long("hxc:d:n:e:frqw", --default) reads it:
// options may follow operands (GNU permutation, unless POSIXLY_CORRECT), '--' ends them, and the
// command comes from the program's name after its last '-' (qubesdb-read: read) or from -c.

export const COMMANDS = ['read', 'write', 'rm', 'multiread', 'list', 'watch'] as const
export type Command = (typeof COMMANDS)[number]

export interface Options {
  command: Command | undefined
  /** -f: print full paths */
  fullPath: boolean
  /** -r: print values as they are */
  raw: boolean
  /** -q: no error lines */
  quiet: boolean
  /** -w: read waits for a missing entry */
  wait: boolean
  /** -x: read removes what it read */
  removeAfterRead: boolean
  /** -e/--default: what read prints for a missing entry */
  defaultValue: string | undefined
  /** -n: how many events watch prints (negative: no end) */
  watchCount: number
  /** -d: another domain's QubesDB (dom0 only) */
  domain: string | undefined
}

export type CommandLine = { kind: 'run'; command: Command; options: Options; operands: string[] } | { kind: 'exit'; code: number; stderr: string }

const commandNamed = (name: string): Command | undefined => COMMANDS.find((command) => command === name)

export function usage(argv0: string): string {
  return `Usage: ${argv0} [-frq] [-c <command>] [-d <destination domain>] 
       [command arguments]
  -f - print full path (affects reading commands)
  -r - print raw value (affects reading commands)
  -q - quiet - do not print error
  -c <command> - specify command
  -d <domain> - specify destination domain, available only in dom0
  -w - wait for any value (possibly empty)
  -x - remove the value after reading it (affects reading commands)
  -e, --default <default> - use <default> if the value does not exist
  -h - print this message

Available commands:
  read path [path...] - read value(s)
  write path value [path value...] - write value(s)
  rm path [path...] - remove value(s)
  multiread path [path...] - read all entries matching given path
  list path - list paths matching given argument
  watch [-n N] path [path...] - watch given path(s) for modifications
    if -n given you can specify how many events should be received before terminating (default: 1, negative: infinite)
`
}

// getopt's letters: true for those that take a value
const LETTERS: Record<string, boolean> = { h: false, x: false, c: true, d: true, n: true, e: true, f: false, r: false, q: false, w: false }
const LONG_DEFAULT = 'default'

type Found = { letter: string; value?: string; inFirstWord: boolean } | { error: string }

/** GNU getopt_long over `args`: each option in turn; operands are collected into `operands`. */
function* getopt(argv0: string, args: readonly string[], posixlyCorrect: boolean, operands: string[]): Generator<Found> {
  let optionWords = 0
  for (let i = 0; i < args.length; i++) {
    const word = args[i] as string
    if (word === '--') {
      operands.push(...args.slice(i + 1))
      return
    }
    if (!word.startsWith('-') || word === '-') {
      operands.push(word)
      if (posixlyCorrect) {
        operands.push(...args.slice(i + 1))
        return
      }
      continue
    }
    const inFirstWord = optionWords++ === 0
    if (word.startsWith('--')) {
      const [name = '', inline] = splitOnce(word.slice(2), '=')
      if (name === '' || !LONG_DEFAULT.startsWith(name)) return yield { error: `${argv0}: unrecognized option '${word}'` }
      const value = inline ?? args[++i]
      if (value === undefined) return yield { error: `${argv0}: option '--${LONG_DEFAULT}' requires an argument` }
      yield { letter: 'e', value, inFirstWord }
      continue
    }
    for (let j = 1; j < word.length; j++) {
      const letter = word[j] as string
      const takesValue = LETTERS[letter]
      if (takesValue === undefined) return yield { error: `${argv0}: invalid option -- '${letter}'` }
      if (!takesValue) {
        yield { letter, inFirstWord }
        continue
      }
      const value = j + 1 < word.length ? word.slice(j + 1) : args[++i]
      if (value === undefined) return yield { error: `${argv0}: option requires an argument -- '${letter}'` }
      yield { letter, value, inFirstWord }
      break
    }
  }
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator)
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)]
}

/** C's atoi: leading blanks, a sign, digits; anything else ends the number (none: 0). */
function atoi(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text)
  return match ? Number.parseInt(match[1] as string, 10) : 0
}

const DEFAULTS: Options = {
  command: undefined,
  fullPath: false,
  raw: false,
  quiet: false,
  wait: false,
  removeAfterRead: false,
  defaultValue: undefined,
  watchCount: 1,
  domain: undefined,
}

const exit = (code: number, stderr: string): CommandLine => ({ kind: 'exit', code, stderr })

/** argv0 as the program was named (the real tool prints it in its usage). */
export function parseCommandLine(argv0: string, args: readonly string[], env: NodeJS.ProcessEnv): CommandLine {
  const byName = argv0.lastIndexOf('-') < 0 ? undefined : commandNamed(argv0.slice(argv0.lastIndexOf('-') + 1))
  const options: Options = { ...DEFAULTS, command: byName }
  const operands: string[] = []
  let commandGiven = byName !== undefined
  for (const found of getopt(argv0, args, env['POSIXLY_CORRECT'] !== undefined, operands)) {
    if ('error' in found) return exit(1, `${found.error}\n${usage(argv0)}`)
    const { letter, value = '' } = found
    if (letter === 'h') return exit(0, usage(argv0))
    if (letter === 'c') {
      if (!found.inFirstWord) return exit(1, '-c must be first argument\n')
      if (commandGiven) return exit(1, '-c only valid for qubesdb-cmd\n')
      // an unknown command is not an error here: it makes the usage below
      options.command = commandNamed(value)
      commandGiven = options.command !== undefined
    } else if (letter === 'e') {
      if (options.command !== 'read') return exit(1, '--default valid only for read command\n')
      options.defaultValue = value
    } else if (letter === 'n') {
      if (options.command !== 'watch') return exit(1, '-n valid only for watch command\n')
      options.watchCount = atoi(value)
    } else if (letter === 'd') options.domain = value
    else setFlag(options, letter)
  }
  const { command } = options
  if (args.length === 0 || command === undefined) return exit(0, usage(argv0))
  return { kind: 'run', command, options, operands }
}

function setFlag(options: Options, letter: string): void {
  if (letter === 'f') options.fullPath = true
  else if (letter === 'r') options.raw = true
  else if (letter === 'q') options.quiet = true
  else if (letter === 'w') options.wait = true
  else if (letter === 'x') options.removeAfterRead = true
}
