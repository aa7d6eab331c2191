// The daemon's persisted state: a journal line per change, synced before the answer; snapshots now
// and then. A restart restores the last answered change, whole, whatever moment a crash came.
import { spawn } from 'node:child_process'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { dueAt, DEFAULT_REFRESH } from '../netvm-agent/names/name-state.js'
import { PersistedState, type Entries } from '../netvm-agent/daemon/state.js'
import { transactionText, type Transaction } from '../netvm-agent/nft/transaction.js'

const vm = (ip: string, rule: string): Entries => ({ [`/qubes-firewall/${ip}`]: '', [`/qubes-firewall/${ip}/policy`]: 'drop', [`/qubes-firewall/${ip}/0000`]: rule })
const none = () => undefined

t.test('update swaps the pushed VMs, replace everything, remove forgets; only what was taken is kept', async (t) => {
  const dir = t.testdir()
  const state = new PersistedState(dir)
  t.equal(state.load(), undefined, 'nothing yet')
  state.record('replace', { ...vm('10.137.0.2', 'action=accept'), ...vm('10.137.0.3', 'action=drop'), '/connected-ips': '10.137.0.2 10.137.0.3' }, none)
  state.record('update', { ...vm('10.137.0.3', 'action=accept proto=icmp'), '/qubes-firewall/10.137.0.9/0000': 'no marker: ignored', '/bogus': 'x' }, none)
  const resolved = new Map([['www.example', { addresses: ['192.0.2.10'] }]])
  state.record('update', vm('10.137.0.4', 'action=accept dsthost=www.example'), (ip) => (ip === '10.137.0.4' ? resolved : undefined))
  state.forget(['10.137.0.2'])
  const want = {
    ...vm('10.137.0.3', 'action=accept proto=icmp'),
    ...vm('10.137.0.4', 'action=accept dsthost=www.example'),
    // what the agent resolved, apart from dom0's answers: asked again after a restart
    '/qubes-firewall-cached/10.137.0.4/www.example': '192.0.2.10',
    '/connected-ips': '10.137.0.2 10.137.0.3',
  }
  t.same(new PersistedState(dir).load(), want, 'a restart reads the journal')
  state.compact()
  t.equal(readFileSync(join(dir, 'journal.jsonl'), 'utf8'), '', 'compaction empties the journal')
  t.same(new PersistedState(dir).load(), want, 'and the snapshot holds it all')
  state.record('replace', vm('10.137.0.5', 'action=accept'), none)
  t.same(new PersistedState(dir).load(), vm('10.137.0.5', 'action=accept'), 'replace clears the rest, globals included')
})

t.test('each key goes with its VM (its rules, dom0\'s answers); forwards and /connected-ips are global', async (t) => {
  const dir = t.testdir()
  const state = new PersistedState(dir)
  const forwards = { '/qubes-firewall-forward': '', '/qubes-firewall-forward/0': 'proto=tcp dport=80 to=10.137.0.2 toport=8080' }
  const answered = { '/qubes-firewall-resolved/10.137.0.2/www.example': '192.0.2.1' }
  state.record('replace', { ...vm('10.137.0.2', 'action=accept dsthost=www.example'), ...answered, ...vm('10.137.0.3', 'action=drop'), ...forwards, '/connected-ips': '10.137.0.3' }, none)
  state.forget(['10.137.0.2'])
  t.same(new PersistedState(dir).load(), { ...vm('10.137.0.3', 'action=drop'), ...forwards, '/connected-ips': '10.137.0.3' }, "a VM forgotten takes dom0's answers with it")
})

t.test('a torn last line was never answered: ignored', async (t) => {
  const dir = t.testdir()
  const state = new PersistedState(dir)
  state.record('update', vm('10.137.0.2', 'action=accept'), none)
  appendFileSync(join(dir, 'journal.jsonl'), '{"seq":2,"vms":{"10.137.0.2":{"/qubes-firewall/10.137.0.2/polic')
  t.same(new PersistedState(dir).load(), vm('10.137.0.2', 'action=accept'))
})

t.test('a journal line already in the snapshot is skipped (a crash between snapshot and truncation)', async (t) => {
  const dir = t.testdir()
  const state = new PersistedState(dir)
  state.record('update', vm('10.137.0.2', 'action=accept'), none)
  const journal = readFileSync(join(dir, 'journal.jsonl'), 'utf8')
  state.record('replace', vm('10.137.0.3', 'action=drop'), none)
  state.compact()
  // the old line back, as if truncation never happened
  writeFileSync(join(dir, 'journal.jsonl'), journal)
  t.same(new PersistedState(dir).load(), vm('10.137.0.3', 'action=drop'))
})

t.test('the first format (one entries object) is read', async (t) => {
  const dir = t.testdir({ 'state.json': JSON.stringify({ version: 1, entries: vm('10.137.0.2', 'action=accept') }) })
  t.same(new PersistedState(dir).load(), vm('10.137.0.2', 'action=accept'))
})

t.test('kill -9 at any moment: a restart restores the last answered change (or the one being answered), never a mix', async (t) => {
  for (let round = 0; round < 4; round++) {
    const dir = t.testdir()
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/bin/state-writer.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    // killed after a different number of answers each round (and so at a different moment of a write)
    const stopAt = 100 + round * 137
    let answered = 0
    let buffer = ''
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk) => {
        buffer += chunk
        const lines = buffer.split('\n')
        buffer = lines.pop() ?? ''
        for (const line of lines) answered = Number(line.split(' ')[1])
        if (answered >= stopAt && child.exitCode === null) child.kill('SIGKILL')
      })
      child.on('close', () => resolve())
    })
    const restored = new PersistedState(dir).load()
    // replay the writer's changes in memory up to N: the restored state must be one of these
    const expected = (upTo: number) => {
      const model = new PersistedState(t.testdir())
      const vmOf = (n: number) => `10.137.0.${(n % 5) + 2}`
      for (let n = 1; n <= upTo; n++) {
        const entries = vm(vmOf(n), `action=accept dst4=192.0.2.${n % 250}`)
        if (n % 7 === 0) model.record('replace', { ...entries, '/connected-ips': vmOf(n) }, none)
        else model.record('update', entries, none)
      }
      return model.load()
    }
    const matches = [answered, answered + 1].filter((n) => JSON.stringify(expected(n)) === JSON.stringify(restored))
    t.ok(matches.length > 0, `round ${round}: killed after answer ${answered}; restored a whole state (${matches.join(' or ')})`)
  }
})

t.test('a restart takes each VM\'s own cached answers; a VM\'s that do not parse are dropped, its rules kept', async (t) => {
  const { restoredPush } = await import('../netvm-agent/serve.js')
  const { push, cached } = restoredPush({
    ...vm('10.137.0.4', 'action=drop dsthost=www.example'),
    '/qubes-firewall-cached/10.137.0.4/www.example': '192.0.2.10 2001:db8::10',
    ...vm('10.137.0.5', 'action=drop dsthost=www.example'),
    '/qubes-firewall-cached/10.137.0.5/www.example': 'not-an-address',
    // a VM the push does not hold, and a key of no VM name
    '/qubes-firewall-cached/10.137.0.9/www.example': '192.0.2.9',
    '/qubes-firewall-cached/10.137.0.4/a/b': '192.0.2.1',
  })
  t.same([...cached.keys()], ['10.137.0.4'])
  t.same(cached.get('10.137.0.4')?.get('www.example'), { addresses: ['192.0.2.10', '2001:db8::10'] })
  t.same([...push.vms.keys()], ['10.137.0.4', '10.137.0.5'], 'the cache is no rule: both VMs restored')
  t.ok(push.vms.get('10.137.0.5')?.ok, 'the VM whose answer did not parse keeps its rules (its name is asked again)')
  t.same(push.ignored, [], 'cached keys are not in the push')
})

t.test('a restart takes the agent\'s own answers from the state without DNS, and they are due for a refresh', async (t) => {
  const { Agent } = await import('../netvm-agent/agent.js')
  const { restoredPush } = await import('../netvm-agent/serve.js')
  const asked: string[][] = []
  let answer = '192.0.2.10'
  const fx = {
    runNft: async (transaction: Transaction) => void transactionText(transaction),
    listNft: async (lists: readonly unknown[]) => lists.map(() => undefined),
    resolve: async (names: readonly string[]) => (asked.push([...names]), new Map(names.map((n) => [n, { addresses: [answer] }]))),
    nameservers: () => ({ 4: ['192.0.2.53'], 6: [] }),
    now: () => 1_700_000_000 as import('../common/rule/model.js').EpochSeconds,
  }
  const dir = t.testdir()
  const state = new PersistedState(dir)
  const first = new Agent(fx)
  const pushed = vm('10.137.0.4', 'action=drop dsthost=www.example')
  const { parsePush } = await import('../netvm-agent/push/parse.js')
  await first.replace(parsePush(pushed))
  state.record('replace', pushed, (ip) => first.loadedVms().get(ip)?.resolution)
  t.same(asked, [['www.example']], 'the first apply asked DNS')

  answer = '198.51.100.99'
  const restarted = new Agent(fx)
  const saved = restoredPush(new PersistedState(dir).load() ?? {})
  await restarted.restore(saved.push, saved.cached)
  t.same(asked.length, 1, 'the restore did not ask')
  t.same(restarted.loadedVms().get('10.137.0.4')?.resolution.get('www.example' as never), { addresses: ['192.0.2.10'] }, 'the cached answer is in force')
  // a name never freezes: the refresher asks again once the restored answer is due (no TTL: the minimum)
  const restoredState = restarted.loadedVms().get('10.137.0.4')?.names.get('www.example' as never)
  t.equal(restoredState && dueAt(restoredState, DEFAULT_REFRESH), 1_700_000_000 + DEFAULT_REFRESH.minTtl, 'due for a refresh after --refresh-min-ttl')
  await restarted.reapply()
  t.same(asked.length, 1, 'a re-render keeps the name as it stands (asking is the refresher job)')
})
