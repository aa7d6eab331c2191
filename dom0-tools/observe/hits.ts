// `qvm-firewall VM --hits`: what each rule counted at the agent, by `list`'s rule numbers, as the
// HITS and LAST columns of the table. The agent numbers rules as they were pushed (NNNN, the rule's
// NO in `list` at that moment); a rule that expired since is no longer listed nor numbered, so each
// rule after it moved up by one (dom0 pushes nothing at an expiry).
import { formatAge } from '../../common/observe/age.js'
import type { Column, Footer } from '../rule/format-table.js'
import type { ChainHits, Counter } from '../../common/observe/hits.js'
import { addCounters } from './answers.js'

/** A VM's counts, both its chains summed, by `list`'s NO. */
export interface VmHits {
  readonly rules: ReadonlyMap<number, Counter>
  readonly policy: Counter
  readonly blocked?: Counter
}

/** `list`'s NO of the rule pushed as `pushed`, given the push numbers of the rules expired since; undefined for one of those. */
export function listNumber(pushed: number, expiredSincePush: ReadonlySet<number>): number | undefined {
  if (expiredSincePush.has(pushed)) return undefined
  let before = 0
  for (const no of expiredSincePush) if (no < pushed) before++
  return pushed - before
}

/** The counts of a VM's chains (IPv4 and IPv6) added up per rule, renumbered as `list` numbers. */
export function sumHits(chains: readonly ChainHits[], expiredSincePush: ReadonlySet<number>): VmHits {
  const rules = new Map<number, Counter>()
  let policy: Counter | undefined
  let blocked: Counter | undefined
  for (const chain of chains) {
    for (const [pushed, counter] of chain.rules) {
      const no = listNumber(pushed, expiredSincePush)
      if (no !== undefined) rules.set(no, addCounters(rules.get(no), counter))
    }
    policy = addCounters(policy, chain.policy)
    if (chain.blocked) blocked = addCounters(blocked, chain.blocked)
  }
  return { rules, policy: policy ?? { packets: 0, bytes: 0, last: null }, ...(blocked && { blocked }) }
}

const last = (counter: Counter | undefined, now: number): string => (counter?.last == null ? '-' : formatAge(now - counter.last))

/**
 * HITS (packets) and LAST per rule; a rule without a counter (expired, or a name that matched nothing)
 * counted nothing. Below the rules the policy, and the reject-all of a VM whose rules did not load.
 */
export function hitColumns(hits: VmHits, now: number): { columns: Column[]; footers: Footer[] } {
  const footer = (row: Footer): Counter | undefined => (row === 'policy' ? hits.policy : hits.blocked)
  return {
    columns: [
      { header: 'HITS', cell: (_, no) => String(hits.rules.get(no)?.packets ?? 0), footer: (row) => String(footer(row)?.packets ?? 0) },
      { header: 'LAST', cell: (_, no) => last(hits.rules.get(no), now), footer: (row) => last(footer(row), now) },
    ],
    footers: hits.blocked ? ['policy', 'blocked'] : ['policy'],
  }
}
