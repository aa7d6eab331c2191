// qvm-firewall's options, and those given after VMNAME (`qvm-firewall work --raw list`), which
// commander leaves among the action's words: taken off them as Qubes' argparse takes them.
import type { Command, Option } from 'commander'
import { UsageError } from '../../common/errors.js'
import { shown } from '../../common/untrusted-text.js'
import type { Verbosity } from './verbosity.js'

export interface GlobalOptions extends Verbosity {
  raw?: boolean
  resolved?: boolean
  hits?: boolean
  reload?: boolean
  sync?: boolean
  qubesDir?: string
}

/** commander's help option of `cmd` (`-h, --help`), which it keeps apart from cmd.options. */
function helpOptionOf(cmd: Command): Option | undefined {
  return cmd.createHelp().visibleOptions(cmd).find((option) => !cmd.options.includes(option))
}

/** Whether `word` asks `cmd` for its help. */
export function isHelpWord(cmd: Command, word: string): boolean {
  const help = helpOptionOf(cmd)
  return help !== undefined && (help.long === word || help.short === word)
}

/**
 * Options after VMNAME, before the action's own words (`qvm-firewall work --raw list`), as Qubes'
 * argparse takes them: read with the program's own option list and taken off `words` into `opts`.
 * Help among them prints the program's help (exit 0), even after an unknown option, as argparse's does.
 */
export function takeTrailingOptions(untrustedWords: readonly string[], opts: GlobalOptions, program: Command): string[] {
  const words = [...untrustedWords]
  const options = program.options.filter((o) => o.long !== '--version')
  const values = opts as Record<string, unknown>
  const unrecognized: string[] = []
  while (words[0]?.startsWith('-')) {
    const word = words.shift() as string
    if (isHelpWord(program, word)) program.help()
    // `-vv`, `-qr`: short flags run together, as argparse reads them
    const short = /^-[^-]./.test(word)
    const equals = word.startsWith('--') ? word.indexOf('=') : -1
    const [name, inline] = short ? [word.slice(0, 2), word.slice(2)] : equals > 0 ? [word.slice(0, equals), word.slice(equals + 1)] : [word, undefined]
    const option = options.find((o) => o.long === name || o.short === name)
    if (option === undefined) {
      unrecognized.push(word)
      continue
    }
    const key = option.attributeName()
    if (option.required || option.optional) {
      const value = inline ?? words.shift()
      if (value === undefined) {
        unrecognized.push(word)
        continue
      }
      values[key] = option.parseArg ? option.parseArg(value, values[key]) : value
    } else if (inline !== undefined && !short) {
      unrecognized.push(word)
    } else {
      if (inline) words.unshift(`-${inline}`)
      // a counted flag (-v, -q) adds to what commander counted before VMNAME
      values[key] = option.parseArg ? option.parseArg(undefined as never, values[key]) : true
    }
  }
  if (unrecognized.length > 0) throw new UsageError(`unrecognized arguments: ${unrecognized.map((w) => shown(w)).join(' ')}`)
  return words
}
