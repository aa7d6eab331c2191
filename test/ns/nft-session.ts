// The daemon's long-lived `nft -i` (netvm-agent/nft/session.ts) against real nftables in a network
// namespace: a transaction is all or nothing, its error comes back as the transaction's own (and
// the next one is unaffected), lines of tens of KiB and `!=` pass as written, and an nft that dies
// is started again.
import { execFileSync } from 'node:child_process'
import t from 'tap'
import { NftSession } from '../../netvm-agent/nft/session.js'
import { until, untilGone } from '../helpers/wait.js'

const ns = `qfsess${process.pid}`
execFileSync('ip', ['netns', 'add', ns])
t.teardown(() => execFileSync('ip', ['netns', 'del', ns]))
const nft = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args], { encoding: 'utf8' })
const session = new NftSession('ip', ['netns', 'exec', ns, 'nft'])
t.teardown(() => session.close())

t.test('transactions in order; a failing one changes nothing and says why; the next one works', async (t) => {
  await session.run('add table ip qft\nadd chain ip qft c1\n')
  t.match(nft('list', 'chains', 'ip'), /chain c1/)
  await t.rejects(session.run('add chain ip qft c2\nadd rule ip qft nosuch return\n'), /^nft refused the transaction: Error: Could not process rule: No such file or directory/)
  t.notMatch(nft('list', 'chains', 'ip'), /chain c2/, 'the chain of the failed transaction was not added')
  await session.run('add chain ip qft c3\n')
  t.match(nft('list', 'chains', 'ip'), /chain c3/)
})

t.test('a long transaction, `!=` and a quoted ";" pass as written', async (t) => {
  const rules = Array.from({ length: 400 }, (_, i) => `add rule ip qft c1 ip daddr 10.0.${i >> 8}.${i & 255} counter return comment "vm 10.137.0.2 rule ${i}"`)
  await session.run([...rules, 'add rule ip qft c1 ct direction != reply counter return comment "a;b: x"'].join('\n'))
  const listed = nft('list', 'chain', 'ip', 'qft', 'c1')
  t.equal(listed.match(/ return comment /g)?.length, 401)
  t.match(listed, /ct direction != reply counter packets \d+ bytes \d+ return comment "a;b: x"/)
})

t.test('an nft that died is started again for the next transaction', async (t) => {
  const pid = session.pid
  t.ok(pid !== undefined, 'a session runs')
  process.kill(pid as number, 'SIGKILL')
  await untilGone(pid as number)
  await until('the session to see its nft gone', () => session.pid === undefined)
  await session.run('add chain ip qft c4\n')
  t.match(nft('list', 'chains', 'ip'), /chain c4/)
  t.not(session.pid, pid, 'a new nft')
})

t.test('an empty transaction is nothing to do', async (t) => {
  await session.run('')
  t.pass('answered')
})
