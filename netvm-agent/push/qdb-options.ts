// A rule and a forward share one QubesDB value form: space-separated key=value elements.
import { RuleParseError } from '../../common/errors.js'
import { shown } from '../../common/untrusted-text.js'

/** The `key=value` elements of a QubesDB value, each key one of `allowed`, given once. */
export function qdbOptions(untrustedValue: string, allowed: ReadonlySet<string>): Map<string, string> {
  const options = new Map<string, string>()
  for (const untrustedElement of untrustedValue.split(' ')) {
    // (indexOf, not split: a push holds tens of thousands of elements)
    const equals = untrustedElement.indexOf('=')
    if (equals < 0 || untrustedElement.includes('=', equals + 1)) {
      throw new RuleParseError(`malformed element '${shown(untrustedElement)}' (expected key=value)`)
    }
    const key = untrustedElement.slice(0, equals)
    const value = untrustedElement.slice(equals + 1)
    if (!allowed.has(key)) throw new RuleParseError(`unsupported option '${shown(key)}'`)
    if (options.has(key)) throw new RuleParseError(`option '${key}' given twice`)
    if (value === '') throw new RuleParseError(`empty value for '${key}'`)
    options.set(key, value)
  }
  return options
}
