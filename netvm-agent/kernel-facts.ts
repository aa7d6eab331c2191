// What the planner needs to know of the kernel, read with cheap listings only (`list chains` and
// `list sets` of every family, `list chain` of the small chains our jumps go in; listing a table
// makes nft fetch every rule), all asked of one nft, and parsed into types.
import { NFT_FAMILIES, type NftFamily } from './nft/model.js'
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

/** `nft -j list ...` of each list of arguments: its answer parsed, or undefined for a listing that failed (nft/run.ts). */
export type ListNft = (lists: readonly (readonly string[])[]) => Promise<unknown[]>

/** A namespace where nothing exists yet: what `render` plans for. */
export const FRESH_NAMESPACE: KernelFacts = {
  ip: { forward: 'missing-table', dnat: 'missing-table', vmChains: [], vmSets: [] },
  ip6: { forward: 'missing-table', dnat: 'missing-table', vmChains: [], vmSets: [] },
}

/** The objects of `nft -j list ...` output; anything not shaped as nft prints it is left out. */
function listed(output: unknown): Record<string, unknown>[] {
  const items = (output as { nftables?: unknown } | undefined)?.nftables
  return Array.isArray(items) ? items.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null) : []
}

function field(item: Record<string, unknown>, kind: string, key: string): unknown {
  const obj = item[kind]
  return typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[key] : undefined
}

/** Our jump in a chain of Qubes' table, from `list chain` of that one chain (it holds a few rules). */
function jumpState(listing: unknown): ChainState {
  if (listing === undefined) return 'missing-table'
  return listed(listing).some((item) => field(item, 'rule', 'comment') === OWNER_COMMENT) ? 'present' : 'missing-jump'
}

/** The names of the chains or sets of Qubes' table in one family, from a listing of every family. */
function namesIn(items: readonly Record<string, unknown>[], kind: 'chain' | 'set', family: NftFamily): string[] {
  return items
    .filter((item) => field(item, kind, 'family') === family && field(item, kind, 'table') === TABLE)
    .map((item) => field(item, kind, 'name'))
    .filter((name): name is string => typeof name === 'string')
}

/** The chains of Qubes' table our jumps go in: custom-forward (all tables have it) and custom-dnat (Qubes 4.2's). */
const JUMP_CHAINS = ['custom-forward', 'custom-dnat'] as const

export async function readKernelFacts(listNft: ListNft): Promise<KernelFacts> {
  // every family's chains and sets (without their rules and elements), and the chains our jumps go
  // in, asked whether they exist or not: one nft for all (a listing that fails is undefined)
  const jumpChains = NFT_FAMILIES.flatMap((family) => JUMP_CHAINS.map((name) => ['chain', family, TABLE, name]))
  const [chainsListing, setsListing, ...jumpListings] = await listNft([['chains'], ['sets'], ...jumpChains])
  const chains = listed(chainsListing)
  const sets = listed(setsListing)
  const read = (family: NftFamily, index: number): FamilyFacts => {
    const chainNames = namesIn(chains, 'chain', family)
    if (!chainNames.includes('custom-forward')) return FRESH_NAMESPACE[family]
    const [forward, dnat] = jumpListings.slice(index * JUMP_CHAINS.length, (index + 1) * JUMP_CHAINS.length).map(jumpState)
    const ours = (names: string[]) => names.filter((name) => name.startsWith(VM_CHAIN_PREFIX))
    return { forward: forward ?? 'missing-table', dnat: dnat ?? 'missing-table', vmChains: ours(chainNames), vmSets: ours(namesIn(sets, 'set', family)) }
  }
  return { ip: read('ip', 0), ip6: read('ip6', 1) }
}

/** The facts read before they are needed (while a push is read and parsed): left unused (the push did not parse), a failure is no unhandled rejection. */
export function readKernelFactsAhead(listNft: ListNft): Promise<KernelFacts> {
  const facts = readKernelFacts(listNft)
  facts.catch(() => {})
  return facts
}
