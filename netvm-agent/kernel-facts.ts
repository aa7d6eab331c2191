// What the planner needs to know of the kernel, read with cheap listings only (`list chains` and
// `list sets` of every family, `list chain` of two small chains; listing a table makes nft fetch
// every rule) and parsed into types.
import type { NftFamily } from './nft/model.js'
import { OWNER_COMMENT, TABLE } from './nft/expr.js'
import { VM_CHAIN_PREFIX } from './nft/render.js'

/** A base chain of Qubes' table: absent with its table, present without our jump, or with it. */
export type ChainState = 'missing-table' | 'missing-jump' | 'present'

export interface FamilyFacts {
  readonly forward: ChainState
  readonly dnat: ChainState
  /** Our VM chains in the kernel (a run before a restart's too), and their names' sets. */
  readonly vmChains: readonly string[]
  readonly vmSets: readonly string[]
}

export type KernelFacts = Readonly<Record<NftFamily, FamilyFacts>>

/** A namespace where nothing exists yet: what `render` plans for. */
export const FRESH_NAMESPACE: KernelFacts = {
  ip: { forward: 'missing-table', dnat: 'missing-table', vmChains: [], vmSets: [] },
  ip6: { forward: 'missing-table', dnat: 'missing-table', vmChains: [], vmSets: [] },
}

type ListNft = (args: readonly string[]) => Promise<unknown>

/** The objects of `nft -j list ...` output; anything not shaped as nft prints it is left out. */
function listed(output: unknown): Record<string, unknown>[] {
  const items = (output as { nftables?: unknown } | undefined)?.nftables
  return Array.isArray(items) ? items.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null) : []
}

function field(item: Record<string, unknown>, kind: string, key: string): unknown {
  const obj = item[kind]
  return typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[key] : undefined
}

/** Our jump in a base chain of Qubes' table that exists: `list chain` of that one chain (it holds a few rules). */
async function jumpState(listNft: ListNft, family: NftFamily, chainName: string): Promise<ChainState> {
  const output = await listNft(['chain', family, TABLE, chainName])
  if (output === undefined) return 'missing-table'
  return listed(output).some((item) => field(item, 'rule', 'comment') === OWNER_COMMENT) ? 'present' : 'missing-jump'
}

/** The names of the chains or sets of Qubes' table in one family, from a listing of every family. */
function namesIn(items: readonly Record<string, unknown>[], kind: 'chain' | 'set', family: NftFamily): string[] {
  return items
    .filter((item) => field(item, kind, 'family') === family && field(item, kind, 'table') === TABLE)
    .map((item) => field(item, kind, 'name'))
    .filter((name): name is string => typeof name === 'string')
}

export async function readKernelFacts(listNft: ListNft): Promise<KernelFacts> {
  // every family's chains and sets (without their rules and elements): two nft, side by side
  const [chains, sets] = await Promise.all([listNft(['chains']).then(listed), listNft(['sets']).then(listed)])
  const read = async (family: NftFamily): Promise<FamilyFacts> => {
    const chainNames = namesIn(chains, 'chain', family)
    if (!chainNames.includes('custom-forward')) return FRESH_NAMESPACE[family]
    // only the two base chains' rules are listed, each its own nft
    const jump = (name: string) => (chainNames.includes(name) ? jumpState(listNft, family, name) : Promise.resolve<ChainState>('missing-table'))
    const [forward, dnat] = await Promise.all([jump('custom-forward'), jump('custom-dnat')])
    const ours = (names: string[]) => names.filter((name) => name.startsWith(VM_CHAIN_PREFIX))
    return { forward, dnat, vmChains: ours(chainNames), vmSets: ours(namesIn(sets, 'set', family)) }
  }
  const [ip, ip6] = await Promise.all([read('ip'), read('ip6')])
  return { ip, ip6 }
}
