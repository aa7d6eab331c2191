// A typed model of what the agent sends to nft: the libnftables JSON schema, as far as we use it.
// Renderers build these values; serialise.ts alone turns them into what nft reads.

export type NftFamily = 'ip' | 'ip6'
/** Both, in the order the agent handles them. */
export const NFT_FAMILIES: readonly NftFamily[] = ['ip', 'ip6']

export interface TableObj {
  family: NftFamily
  name: string
}

export interface ChainObj {
  family: NftFamily
  table: string
  name: string
  type?: 'filter' | 'nat'
  hook?: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting'
  prio?: number
  policy?: 'accept' | 'drop'
}

export interface MapObj {
  family: NftFamily
  table: string
  name: string
  type: 'ipv4_addr' | 'ipv6_addr'
  map: 'verdict'
}

export interface SetObj {
  family: NftFamily
  table: string
  name: string
  type: 'ipv4_addr' | 'ipv6_addr'
  flags?: ('interval' | 'dynamic' | 'timeout')[]
  /** A set the rules fill (update @set): its bound, and how long an element lives (seconds). */
  size?: number
  timeout?: number
}

export type Verdict =
  | { accept: null }
  | { drop: null }
  | { return: null }
  | { jump: { target: string } }
  | { goto: { target: string } }

export type ElementValue = string | { prefix: { addr: string; len: number } }

export interface ElementObj {
  family: NftFamily
  table: string
  name: string
  elem: (ElementValue | [string, Verdict])[]
}

export type Selector =
  | { meta: { key: 'iifname' | 'oifname' | 'l4proto' | 'time' | 'iif' | 'oif' } }
  | { payload: { protocol: 'ip' | 'ip6' | 'tcp' | 'udp' | 'icmp' | 'icmpv6'; field: string } }
  | { ct: { key: 'state' | 'direction' | 'status' } }
  | { fib: { result: 'oif' | 'type'; flags: ('saddr' | 'daddr' | 'iif')[] } }

export type Value =
  | string
  | number
  | boolean
  | string[]
  | { prefix: { addr: string; len: number } }
  | { range: [number, number] }
  | { set: (string | number | { prefix: { addr: string; len: number } })[] }

export type Statement =
  | { match: { op: '==' | '!=' | '<' | 'in'; left: Selector; right: Value } }
  | { counter: null }
  | { reject: { type: 'icmp' | 'icmpv6' | 'icmpx' | 'tcp reset'; expr?: string } }
  | { vmap: { key: Selector; data: string } }
  | { masquerade: null }
  | { dnat: { addr: string; port?: number; family?: NftFamily } }
  /** `update @set { key limit rate R/second burst B packets }`: matches while the key is under its rate. */
  | { set: { op: 'update'; elem: Selector; set: string; stmt: [{ limit: Limit }] } }
  | { log: { prefix: string; group: number } }
  | Verdict

export interface Limit {
  rate: number
  per: 'second'
  burst: number
  burst_unit: 'packets'
}

export interface RuleObj {
  family: NftFamily
  table: string
  chain: string
  expr: Statement[]
  comment?: string
  handle?: number
  index?: number
}

export type NftObject =
  | { table: TableObj }
  | { chain: ChainObj }
  | { map: MapObj }
  | { set: SetObj }
  | { element: ElementObj }
  | { rule: RuleObj }

export type Command =
  | { add: NftObject }
  | { insert: { rule: RuleObj } }
  | { flush: { chain: ChainObj } | { map: MapObj } | { set: SetObj } }
  | { delete: NftObject }
