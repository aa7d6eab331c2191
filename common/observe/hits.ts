// A chain's hit counts as the agent reads them and dom0 receives them (`hits`).

/** Packets and bytes a rule (or the policy) counted, and when the agent saw the count grow (epoch seconds; null: not seen growing). */
export interface Counter {
  readonly packets: number
  readonly bytes: number
  readonly last: number | null
}

/** One chain's counters (a VM has one per address family), by the rules' push numbers. */
export interface ChainHits {
  readonly rules: ReadonlyMap<number, Counter>
  readonly policy: Counter
  /** The reject-all rule of a VM whose rules did not parse (or that nft refused), when it has one. */
  readonly blocked?: Counter
}
