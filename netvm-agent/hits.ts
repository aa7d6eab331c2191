// A VM's hit counts: the per-rule counters of its chain, read from `nft -j list chain` (the kernel's
// answer, parsed here into typed values), summed per firewall rule (a rule for tcp and udp is two nft
// rules), and when the agent saw each count grow (nft 1.0.6 has no `last` statement: the agent
// compares a read with the one before, so LAST is as fine as the reads).
import type { ChainHits, Counter } from '../common/observe/hits.js'

type Key = number | 'policy' | 'blocked'

/** Which rule a counter belongs to, from the comment render.ts gives every VM rule. */
function keyOf(comment: unknown): Key | undefined {
  if (typeof comment !== 'string') return undefined
  const m = /^vm \S+ (?:rule (\d{1,5})|(policy)|(blocked))\b/.exec(comment)
  if (m === null) return undefined
  return m[1] !== undefined ? Number(m[1]) : m[2] !== undefined ? 'policy' : 'blocked'
}

function counterOf(expr: unknown): { packets: number; bytes: number } | undefined {
  if (!Array.isArray(expr)) return undefined
  for (const statement of expr as unknown[]) {
    const counter = (statement as { counter?: { packets?: unknown; bytes?: unknown } } | null)?.counter
    if (counter && Number.isSafeInteger(counter.packets) && Number.isSafeInteger(counter.bytes)) {
      return { packets: counter.packets as number, bytes: counter.bytes as number }
    }
  }
  return undefined
}

/** The counters of `nft -j list chain ...`, summed per rule number, the policy and the reject-all. */
export function parseChainCounters(listing: unknown): Map<Key, { packets: number; bytes: number }> {
  const items = (listing as { nftables?: unknown } | null)?.nftables
  if (!Array.isArray(items)) throw new Error('nft listed no chain')
  const sums = new Map<Key, { packets: number; bytes: number }>()
  for (const item of items as unknown[]) {
    const rule = (item as { rule?: { comment?: unknown; expr?: unknown } } | null)?.rule
    const key = keyOf(rule?.comment)
    const counter = counterOf(rule?.expr)
    if (key === undefined || counter === undefined) continue
    const sum = sums.get(key) ?? { packets: 0, bytes: 0 }
    sums.set(key, { packets: sum.packets + counter.packets, bytes: sum.bytes + counter.bytes })
  }
  return sums
}

/** Remembers each chain's last read, to say when a count grew. A new chain (an update) starts from zero. */
export class HitHistory {
  private readonly seen = new Map<string, Map<Key, Counter>>()

  read(chain: string, counters: ReadonlyMap<Key, { packets: number; bytes: number }>, now: number): ChainHits {
    const before = this.seen.get(chain)
    const hits = new Map<Key, Counter>()
    for (const [key, { packets, bytes }] of counters) {
      const old = before?.get(key)
      // a chain read for the first time: whatever it counted was counted before we looked
      const grew = old !== undefined ? packets > old.packets : false
      hits.set(key, { packets, bytes, last: grew ? now : (old?.last ?? null) })
    }
    this.seen.set(chain, hits)
    const rules = new Map([...hits].filter((e): e is [number, Counter] => typeof e[0] === 'number').sort((a, b) => a[0] - b[0]))
    const blocked = hits.get('blocked')
    return { rules, policy: hits.get('policy') ?? { packets: 0, bytes: 0, last: null }, ...(blocked && { blocked }) }
  }

  /** Chains no longer loaded are forgotten. */
  keepOnly(chains: ReadonlySet<string>): void {
    for (const chain of this.seen.keys()) if (!chains.has(chain)) this.seen.delete(chain)
  }
}
