// Many VMs carry the very same rules (each DispVM of a template): a VM whose numbered entries are
// those of a VM parsed before in the push takes what they parsed to, rules or failure. Lists are
// compared, never hashed: a Map of a push's 25,000 distinct rule strings cost more than every parse
// it saved (~60 ms of a 500-VM push), and two lists that differ mostly differ at their first rule.
import type { Family, FwRule } from './model.js'

/** What a VM's numbered entries parse to: its rules, or the failure of one of them (`rule`: its number). */
export type ParsedRules = { readonly rules: readonly FwRule[] } | { readonly error: string; readonly rule: number | null }

interface Seen {
  readonly keys: readonly string[]
  readonly values: readonly string[]
  readonly parsed: ParsedRules
}

/** Lists kept for each family and number of rules: the DispVMs of a few templates, interleaved in a push, still match. */
const KEPT_PER_LENGTH = 4

function sameList(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** One per push: what each list of numbered entries parsed to. */
export class SameRules {
  private readonly seen: Record<Family, Map<number, Seen[]>> = { 4: new Map(), 6: new Map() }

  /** `parse()` of these entries (`keys` and `values` side by side), or what it gave a VM with the same ones. */
  parsedOnce(family: Family, keys: readonly string[], values: readonly string[], parse: () => ParsedRules): ParsedRules {
    let ofLength = this.seen[family].get(keys.length)
    if (ofLength === undefined) this.seen[family].set(keys.length, (ofLength = []))
    const match = ofLength.find((seen) => sameList(seen.values, values) && sameList(seen.keys, keys))
    if (match !== undefined) return match.parsed
    const parsed = parse()
    if (ofLength.unshift({ keys, values, parsed }) > KEPT_PER_LENGTH) ofLength.pop()
    return parsed
  }
}
