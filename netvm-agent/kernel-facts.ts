// What the planner needs to know of the kernel, read with cheap listings only (`list chain` of two
// small chains and `list chains`; listing a table makes nft fetch every rule) and parsed into types.
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

async function chainState(listNft: ListNft, family: NftFamily, chainName: string): Promise<ChainState> {
  const output = await listNft(['chain', family, TABLE, chainName])
  if (output === undefined) return 'missing-table'
  return listed(output).some((item) => field(item, 'rule', 'comment') === OWNER_COMMENT) ? 'present' : 'missing-jump'
}

/** Our VM chains or sets of one family: `list chains`, `list sets` (without their elements). */
async function vmObjects(listNft: ListNft, family: NftFamily, kind: 'chain' | 'set'): Promise<string[]> {
  return listed(await listNft([`${kind}s`, family]))
    .filter((item) => field(item, kind, 'table') === TABLE)
    .map((item) => field(item, kind, 'name'))
    .filter((name): name is string => typeof name === 'string' && name.startsWith(VM_CHAIN_PREFIX))
}

export async function readKernelFacts(listNft: ListNft): Promise<KernelFacts> {
  const read = async (family: NftFamily): Promise<FamilyFacts> => {
    const forward = await chainState(listNft, family, 'custom-forward')
    if (forward === 'missing-table') return FRESH_NAMESPACE[family]
    // read-only listings, each its own nft: side by side, not one after another
    const [dnat, vmChains, vmSets] = await Promise.all([
      chainState(listNft, family, 'custom-dnat'),
      vmObjects(listNft, family, 'chain'),
      vmObjects(listNft, family, 'set'),
    ])
    return { forward, dnat, vmChains, vmSets }
  }
  const [ip, ip6] = await Promise.all([read('ip'), read('ip6')])
  return { ip, ip6 }
}
