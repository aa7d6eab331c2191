// Listings asked of one nft (netvm-agent/nft/run.ts: listNftWith, `nft -j -t -i`) against real
// nftables in a network namespace: each listing gets its own answer in its place, a listing of
// something absent is undefined without shifting the others, sets come without their elements, an
// nft that cannot run answers every listing undefined, answers that do not add up are an error,
// and nft -i's history never reaches a file.
import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import t from 'tap'
import { listNftWith } from '../../netvm-agent/nft/run.js'

const ns = `qflist${process.pid}`
execFileSync('ip', ['netns', 'add', ns])
t.teardown(() => execFileSync('ip', ['netns', 'del', ns]))
execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
  input: [
    'add table ip qft',
    'add chain ip qft a',
    'add rule ip qft a ip daddr 192.0.2.1 counter return comment "in a"',
    'add chain ip qft b',
    'add rule ip qft b ip daddr 192.0.2.2 counter return comment "in b"',
    'add set ip qft s { type ipv4_addr; elements = { 192.0.2.3, 192.0.2.4 }; }',
  ].join('\n'),
})
const listNft = listNftWith(['ip', 'netns', 'exec', ns, 'nft'])

/** The items of one answer of the kind (`chain`, `rule`, `set`), as nft printed them. */
function items(answer: unknown, kind: string): Record<string, unknown>[] {
  const all = (answer as { nftables: Record<string, unknown>[] }).nftables
  return all.filter((item) => kind in item).map((item) => item[kind] as Record<string, unknown>)
}

t.test('each listing its own answer, in its place; one of something absent is undefined', async (t) => {
  const answers = await listNft([['chain', 'ip', 'qft', 'a'], ['chain', 'ip', 'qft', 'absent'], ['chains'], ['chain', 'ip6', 'qft', 'b'], ['chain', 'ip', 'qft', 'b']])
  t.equal(answers.length, 5)
  t.same(items(answers[0], 'rule').map((rule) => rule['comment']), ['in a'])
  t.equal(answers[1], undefined, 'a chain that does not exist')
  t.same(items(answers[2], 'chain').map((chain) => chain['name']).sort(), ['a', 'b'])
  t.equal(answers[3], undefined, 'a table that does not exist')
  t.same(items(answers[4], 'rule').map((rule) => rule['comment']), ['in b'], 'the answer after two failures is still its own')
})

t.test('sets come without their elements', async (t) => {
  const [sets] = await listNft([['sets']])
  const [set] = items(sets, 'set')
  t.equal(set?.['name'], 's')
  t.notOk('elem' in (set ?? {}), 'no elements listed')
})

t.test("nft -i's history is never written to $HOME", async (t) => {
  const home = t.testdir()
  const homeBefore = process.env['HOME']
  process.env['HOME'] = home
  t.teardown(() => (homeBefore === undefined ? delete process.env['HOME'] : (process.env['HOME'] = homeBefore)))
  const [chains] = await listNft([['chains']])
  t.ok(chains !== undefined, 'listed')
  t.same(readdirSync(home), [], 'no .nft.history in the home of the user who runs the agent')
})

t.test('an nft that cannot run answers every listing undefined', async (t) => {
  t.same(await listNftWith(['/nonexistent/nft'])([['chains'], ['sets']]), [undefined, undefined])
})

t.test('answers that do not add up are an error, not a guess', async (t) => {
  // one line for two listings, and no error quoting either
  const oneLine = listNftWith(['sh', '-c', 'cat >/dev/null; echo "{\\"nftables\\": []}"', 'sh'])
  await t.rejects(oneLine([['chains'], ['sets']]), /^nft answered 1 of 2 listings: and said nothing$/)
})
