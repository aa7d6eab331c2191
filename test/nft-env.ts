// The environment nft runs in (netvm-agent/nft/env.ts): malloc on huge pages, HOME where no history
// file can be, whatever else the agent's environment holds; glibc tunables set by whoever runs the
// agent are kept, and its own choice of huge pages wins.
import t from 'tap'
import { nftEnv } from '../netvm-agent/nft/env.js'

t.test('huge pages for malloc, no home, the rest kept', async (t) => {
  t.same(nftEnv({ PATH: '/usr/sbin:/usr/bin', HOME: '/root' }), { PATH: '/usr/sbin:/usr/bin', HOME: '/dev/null', GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' })
  t.equal(nftEnv({ GLIBC_TUNABLES: '' }).GLIBC_TUNABLES, 'glibc.malloc.hugetlb=1')
})

t.test("the tunables of whoever runs the agent are kept", async (t) => {
  t.equal(nftEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES, 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1')
  t.equal(nftEnv({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }).GLIBC_TUNABLES, 'glibc.malloc.hugetlb=0', 'their own choice of huge pages wins')
})
