// The daemon's long-lived `nft -i` (netvm-agent/nft/session.ts) against real nftables in a network
// namespace: a transaction is all or nothing, its error comes back as the transaction's own (and
// the next one is unaffected), lines of tens of KiB and `!=` pass as written, and an nft that dies
// is started again; nft's history never reaches a file and a session is replaced before it grows.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

t.test("nft -i's history is never written to $HOME; its malloc takes huge pages", async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'qf-home-'))
  t.teardown(() => rmSync(home, { recursive: true, force: true }))
  const homeBefore = process.env['HOME']
  // the session's nft starts at its first transaction: with this HOME in the agent's environment
  process.env['HOME'] = home
  const own = new NftSession('ip', ['netns', 'exec', ns, 'nft'])
  try {
    await own.run('add chain ip qft h1\n')
  } finally {
    process.env['HOME'] = homeBefore
  }
  const pid = own.pid as number
  // (ip netns exec execs nft: the same process)
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
  t.ok(environ.includes('HOME=/dev/null'), 'HOME=/dev/null')
  t.ok(environ.includes('GLIBC_TUNABLES=glibc.malloc.hugetlb=1'), 'malloc on huge pages (nft/env.ts)')
  own.close()
  await untilGone(pid)
  t.notOk(existsSync(join(home, '.nft.history')), 'no .nft.history in the home of the user who runs the agent')
})

t.test('a session is replaced by a fresh nft once it has read its share, and goes on', async (t) => {
  const small = new NftSession('ip', ['netns', 'exec', ns, 'nft'], 400)
  t.teardown(() => small.close())
  const pids = new Set<number>()
  let replaced = 0
  for (let i = 0; i < 12; i++) {
    const rules = Array.from({ length: 10 }, (_, r) => `add rule ip qft r${i} ip daddr 10.1.${i}.${r} counter return comment "rule ${r}"`)
    await small.run([`add chain ip qft r${i}`, ...rules].join('\n'))
    // a session that has read its share is closed right after answering
    if (small.pid === undefined) replaced++
    else pids.add(small.pid)
  }
  t.ok(replaced >= 2, `replaced ${replaced} times in 12 transactions with a 400-byte share (each one sends a line of ~100)`)
  for (const pid of pids) if (pid !== small.pid) await untilGone(pid, `the replaced nft ${pid} exited`)
  const listed = nft('list', 'chains', 'ip')
  t.equal(Array.from({ length: 12 }, (_, i) => listed.includes(`chain r${i} {`)).filter(Boolean).length, 12, 'every transaction is in')
})

t.test('the transaction file is gone once nft answered, whether it took it or not; the directory goes with the session', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'qf-tmp-'))
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
  const tmpBefore = process.env['TMPDIR']
  process.env['TMPDIR'] = tmp
  t.teardown(() => (tmpBefore === undefined ? delete process.env['TMPDIR'] : (process.env['TMPDIR'] = tmpBefore)))
  const own = new NftSession('ip', ['netns', 'exec', ns, 'nft'])
  t.teardown(() => own.close())
  await own.run('add chain ip qft f1\n')
  const [dir, ...others] = readdirSync(tmp)
  t.match(dir, /^qubes-firewall-/, 'the session keeps one private directory')
  t.same(others, [])
  t.same(readdirSync(join(tmp, dir as string)), [], 'nothing in it after a transaction nft took')
  t.equal(statSync(join(tmp, dir as string)).mode & 0o777, 0o700, 'only root can enter it')
  await t.rejects(own.run('add chain ip qft f2\nadd rule ip qft nosuch return\n'), /^nft refused the transaction: Error: Could not process rule: No such file or directory \| add rule ip qft nosuch return$/)
  t.same(readdirSync(join(tmp, dir as string)), [], 'nothing in it after one nft refused')
  await own.run('add chain ip qft f3\n')
  t.same(readdirSync(tmp), [dir], 'the same directory for the next transaction')
  // removed behind its back, as systemd-tmpfiles cleans a /tmp left quiet for days
  rmSync(join(tmp, dir as string), { recursive: true })
  await own.run('add chain ip qft f4\n')
  t.match(nft('list', 'chains', 'ip'), /chain f4/, 'a directory gone is made again')
  t.equal(readdirSync(tmp).length, 1)
  own.close()
  t.same(readdirSync(tmp), [], 'nothing left once the session is closed')
})
