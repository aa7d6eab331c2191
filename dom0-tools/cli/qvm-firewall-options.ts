// qvm-firewall's options, and those given after VMNAME (`qvm-firewall work --raw list`), which
// commander leaves among the action's words: taken off them as Qubes' argparse takes them.
import type { Option } from 'commander'
import { UsageError } from '../../common/errors.js'
import { shown } from '../../common/untrusted-text.js'

export interface GlobalOptions {
  raw?: boolean
  resolved?: boolean
  reload?: boolean
  sync?: boolean
  quiet?: boolean
  verbose?: boolean
  qubesDir?: string
}

/**
 * Options after VMNAME, before the action's own words (`qvm-firewall work --raw list`), as Qubes'
 * argparse takes them: read with the program's own option list and taken off `words` into `opts`.
 */
export function takeTrailingOptions(untrustedWords: readonly string[], opts: GlobalOptions, options: readonly Option[]): string[] {
  const words = [...untrustedWords]
  while (words[0]?.startsWith('-')) {
    const word = words.shift() as string
    const unrecognized = new UsageError(`unrecognized arguments: ${shown(word)}`)
    const equals = word.startsWith('--') ? word.indexOf('=') : -1
    const [name, inline] = equals > 0 ? [word.slice(0, equals), word.slice(equals + 1)] : [word, undefined]
    const option = options.find((o) => (o.long === name || o.short === name) && o.long !== '--version')
    if (option === undefined) throw unrecognized
    const takesValue = option.required || option.optional
    const value = takesValue ? (inline ?? words.shift()) : inline === undefined ? true : undefined
    if (value === undefined) throw unrecognized
    ;(opts as Record<string, unknown>)[option.attributeName()] = value
  }
  return words
}
