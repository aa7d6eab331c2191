// What the planner learns of the kernel: every family's chains and sets, and the rules of the chains
// our jumps go in (never a whole table), all asked of one nft. (test/ns/native-syntax.ts reads a
// real kernel; test/ns/listings.ts the one nft's answers.)
import t from 'tap'
import { FRESH_NAMESPACE, readKernelFacts } from '../netvm-agent/kernel-facts.js'

const chain = (family: string, table: string, name: string) => ({ chain: { family, table, name, handle: 1 } })
const set = (family: string, table: string, name: string) => ({ set: { family, table, name, type: 'ipv4_addr', handle: 2 } })
const rule = (family: string, chainName: string, comment?: string) => ({ rule: { family, table: 'qubes', chain: chainName, handle: 3, expr: [], ...(comment && { comment }) } })

/** An nft that knows `listings` (any other fails); `asked`: each call's listings. */
function fakeNft(listings: Record<string, object[] | undefined>) {
  const asked: string[][] = []
  const listNft = async (lists: readonly (readonly string[])[]) => {
    asked.push(lists.map((args) => args.join(' ')))
    return lists.map((args) => {
      const items = listings[args.join(' ')]
      return items === undefined ? undefined : { nftables: [{ metainfo: { version: '1.0.6' } }, ...items] }
    })
  }
  return { listNft, asked }
}

const ALL_LISTINGS = [
  'chains', 'sets', 'chain ip qubes custom-forward', 'chain ip qubes custom-dnat', 'chain ip6 qubes custom-forward', 'chain ip6 qubes custom-dnat',
]

t.test('no table (or no nft): a fresh namespace', async (t) => {
  const { listNft, asked } = fakeNft({ chains: [], sets: [] })
  t.same(await readKernelFacts(listNft), FRESH_NAMESPACE)
  t.same(asked, [ALL_LISTINGS], 'one nft, asked every listing')
  t.same(await readKernelFacts(fakeNft({}).listNft), FRESH_NAMESPACE, 'listings that fail read as nothing there')
})

t.test('our table in one family: its jumps, our chains and sets; the other family fresh', async (t) => {
  const { listNft, asked } = fakeNft({
    chains: [
      chain('ip', 'qubes', 'custom-forward'), chain('ip', 'qubes', 'custom-dnat'), chain('ip', 'qubes', 'qf-forward'),
      chain('ip', 'qubes', 'qf-vm-10-137-0-5-g3'), chain('ip', 'other', 'qf-vm-not-ours'), chain('inet', 'qubes', 'qf-vm-10-137-0-6-g0'),
    ],
    sets: [set('ip', 'qubes', 'qf-vm-10-137-0-5-g3-n0'), set('ip', 'qubes', 'qf-connected'), set('ip6', 'other', 'qf-vm-x')],
    'chain ip qubes custom-forward': [chain('ip', 'qubes', 'custom-forward'), rule('ip', 'custom-forward', 'qubes-firewall-agent'), rule('ip', 'custom-forward')],
    'chain ip qubes custom-dnat': [chain('ip', 'qubes', 'custom-dnat'), rule('ip', 'custom-dnat', 'a user rule')],
  })
  t.same(await readKernelFacts(listNft), {
    ip: { forward: 'present', dnat: 'missing-jump', vmChains: ['qf-vm-10-137-0-5-g3'], vmSets: ['qf-vm-10-137-0-5-g3-n0'] },
    ip6: FRESH_NAMESPACE.ip6,
  })
  t.same(asked, [ALL_LISTINGS], 'one nft, six listings, none of a whole table')
})

t.test('a table without custom-dnat (older Qubes): it is missing (its listing fails)', async (t) => {
  const { listNft, asked } = fakeNft({
    chains: [chain('ip6', 'qubes', 'custom-forward')],
    sets: [],
    'chain ip6 qubes custom-forward': [chain('ip6', 'qubes', 'custom-forward')],
  })
  t.match(await readKernelFacts(listNft), { ip6: { forward: 'missing-jump', dnat: 'missing-table', vmChains: [], vmSets: [] } })
  t.same(asked, [ALL_LISTINGS])
})

t.test('each family reads the listings of its own chains', async (t) => {
  const { listNft } = fakeNft({
    chains: [chain('ip', 'qubes', 'custom-forward'), chain('ip6', 'qubes', 'custom-forward'), chain('ip6', 'qubes', 'custom-dnat')],
    sets: [],
    'chain ip qubes custom-forward': [chain('ip', 'qubes', 'custom-forward')],
    'chain ip6 qubes custom-forward': [chain('ip6', 'qubes', 'custom-forward'), rule('ip6', 'custom-forward', 'qubes-firewall-agent')],
    'chain ip6 qubes custom-dnat': [chain('ip6', 'qubes', 'custom-dnat'), rule('ip6', 'custom-dnat', 'qubes-firewall-agent')],
  })
  t.match(await readKernelFacts(listNft), { ip: { forward: 'missing-jump', dnat: 'missing-table' }, ip6: { forward: 'present', dnat: 'present' } })
})
