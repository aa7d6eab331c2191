// Qubes' RuleOption safe character set (qubes/firewall.py): a rule value outside it is refused
// before anything else reads it, naming the first bad character.
import { RuleParseError } from '../errors.js'

// a comment may also hold spaces
const SAFE_VALUE = /^[A-Za-z0-9:;,./\-_[\]]+$/
const SAFE_COMMENT = /^[A-Za-z0-9:;,./\-_[\] ]+$/

function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0
  return code >= 0x21 && code < 0x7f ? `'${c}'` : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
}

/** Rejects a value outside Qubes' safe character set, naming the first bad character. */
export function checkSafe(key: string, untrustedValue: string, comment = false): string {
  if (untrustedValue === '') throw new RuleParseError(`empty value for '${key}'`)
  const safe = comment ? SAFE_COMMENT : SAFE_VALUE
  if (!safe.test(untrustedValue)) {
    const bad = [...untrustedValue].find((c) => !safe.test(c)) ?? '?'
    throw new RuleParseError(`invalid character ${describeChar(bad)} in ${key}`)
  }
  return untrustedValue
}
