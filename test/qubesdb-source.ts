// The QubesDB source's logic: what it reads when a path fires, what it asks the daemon to change,
// and what it writes back (handled counters, /dns/<ip>/), against an in-memory QubesDB. The real
// qubesdb-cmd interface is exercised by test/ns/qubesdb.ts.
import t, { type Test } from 'tap'
import { formatDnsValue, markerIp, QubesDbSource, type ChangeRequest } from '../netvm-agent/qubesdb/source.js'
import { parseMultiread, type QubesDb } from '../common/qubesdb/client.js'
import type { Resolution } from '../netvm-agent/push/model.js'
import { until } from './helpers/wait.js'

const A = '10.137.0.5'
const B = '10.137.0.6'

class MemoryDb implements QubesDb {
  readonly entries = new Map<string, string>()
  readonly unreadable = new Set<string>()
  async read(path: string) {
    return this.entries.get(path)
  }
  async multiread(prefix: string) {
    if (this.unreadable.has(prefix)) throw new Error(`qubesdb-multiread ${prefix}: malformed line`)
    return new Map([...this.entries].filter(([path]) => path.startsWith(prefix)).sort())
  }
  async list(prefix: string) {
    return [...this.entries.keys()].filter((path) => path.startsWith(prefix)).sort()
  }
  async write(path: string, value: string) {
    this.entries.set(path, value)
  }
  async writeAll(entries: readonly (readonly [string, string])[]) {
    for (const [path, value] of entries) this.entries.set(path, value)
  }
  async rm(path: string) {
    for (const key of [...this.entries.keys()]) if (path.endsWith('/') ? key.startsWith(path) : key === path) this.entries.delete(key)
  }
  async rmAll(paths: readonly string[]) {
    for (const path of paths) await this.rm(path)
  }
  /** As qubesd writes a VM's rules: policy, rules, then the marker. */
  writeVm(ip: string, policy: string, ...rules: string[]) {
    void this.rm(`/qubes-firewall/${ip}/`)
    this.entries.set(`/qubes-firewall/${ip}/policy`, policy)
    rules.forEach((rule, i) => this.entries.set(`/qubes-firewall/${ip}/${String(i).padStart(4, '0')}`, rule))
    this.entries.set(`/qubes-firewall/${ip}`, '')
  }
}

function harness(t: Test, resolutions: Record<string, Record<string, Resolution>> = {}) {
  const db = new MemoryDb()
  const changes: ChangeRequest[] = []
  const removals: string[][] = []
  const logged: string[] = []
  const loaded = new Set<string>()
  const source = new QubesDbSource({
    db,
    change: async (request) => {
      changes.push(request)
      for (const key of Object.keys(request.entries)) {
        const ip = markerIp(key)
        if (ip !== undefined) loaded.add(ip)
      }
      return { ok: true }
    },
    remove: async (ips) => {
      removals.push([...ips])
      for (const ip of ips) loaded.delete(ip)
      return { ok: true }
    },
    resolutionOf: (ip) => (loaded.has(ip) ? new Map(Object.entries(resolutions[ip] ?? {})) : undefined),
    log: (message) => logged.push(message),
  })
  const settled = () => until('the source is idle', () => !source.busy)
  t.teardown(settled)
  return { db, source, changes, removals, logged, settled }
}

t.test('at start every listed VM is loaded in one replace, with the connected addresses, and handled reads 1', async (t) => {
  const { db, source, changes, settled } = harness(t, { [A]: { 'www.example': { addresses: ['192.0.2.10', '192.0.2.11'] } } })
  db.writeVm(A, 'drop', 'action=accept dsthost=www.example proto=tcp dstports=443-443')
  db.writeVm(B, 'accept')
  db.entries.set('/connected-ips', `${A} ${B}`)
  db.entries.set('/qubes-firewall-handled/10.137.0.6', '7')
  source.onLive()
  await settled()
  t.equal(changes.length, 1)
  t.equal(changes[0]?.op, 'replace')
  t.same(changes[0]?.entries, {
    '/connected-ips': `${A} ${B}`,
    '/connected-ips6': '',
    [`/qubes-firewall/${A}`]: '',
    [`/qubes-firewall/${A}/policy`]: 'drop',
    [`/qubes-firewall/${A}/0000`]: 'action=accept dsthost=www.example proto=tcp dstports=443-443',
    [`/qubes-firewall/${B}`]: '',
    [`/qubes-firewall/${B}/policy`]: 'accept',
  })
  t.equal(db.entries.get(`/qubes-firewall-handled/${A}`), '1')
  t.equal(db.entries.get(`/qubes-firewall-handled/${B}`), '8', 'counted up from what QubesDB held, as Qubes does')
  t.equal(db.entries.get(`/dns/${A}/www.example`), "{'192.0.2.10/32', '192.0.2.11/32'}")
})

t.test('only the marker triggers; each marker write taken counts once; other VMs are not re-read', async (t) => {
  const { db, source, changes, settled } = harness(t)
  db.writeVm(A, 'accept')
  db.writeVm(B, 'accept')
  source.onLive()
  await settled()
  db.writeVm(A, 'drop', 'action=accept proto=icmp')
  source.onPath(`/qubes-firewall/${A}/policy`)
  source.onPath(`/qubes-firewall/${A}/0000`)
  source.onPath('/qubes-firewall/')
  await settled()
  t.equal(changes.length, 1, 'rule and policy writes alone change nothing')
  source.onPath(`/qubes-firewall/${A}`)
  await settled()
  t.equal(changes.length, 2)
  t.same(changes[1], {
    op: 'update',
    entries: { [`/qubes-firewall/${A}`]: '', [`/qubes-firewall/${A}/policy`]: 'drop', [`/qubes-firewall/${A}/0000`]: 'action=accept proto=icmp' },
    unreadable: new Map(),
  })
  t.equal(db.entries.get(`/qubes-firewall-handled/${A}`), '2')
  t.equal(db.entries.get(`/qubes-firewall-handled/${B}`), '1', 'a VM not rewritten keeps its count')
})

t.test('markers fired while a change is applied are taken together, each counted', async (t) => {
  const { db, source, changes, settled } = harness(t)
  db.writeVm(A, 'accept')
  source.onLive()
  source.onPath(`/qubes-firewall/${A}`)
  source.onPath(`/qubes-firewall/${A}`)
  await settled()
  t.equal(changes.length, 2, 'the start-up replace, then one update for both writes')
  t.equal(db.entries.get(`/qubes-firewall-handled/${A}`), '3')
})

t.test('/connected-ips fires an update of the addresses alone', async (t) => {
  const { db, source, changes, settled } = harness(t)
  source.onLive()
  await settled()
  db.entries.set('/connected-ips6', 'fd09:24ef:4179::a89:5')
  source.onPath('/connected-ips6')
  await settled()
  t.same(changes[1]?.entries, { '/connected-ips': '', '/connected-ips6': 'fd09:24ef:4179::a89:5' })
})

t.test('a VM whose marker is gone is removed, and its /dns/<ip>/ cleared', async (t) => {
  const { db, source, removals, settled } = harness(t, { [A]: { 'www.example': { addresses: ['192.0.2.10'] } } })
  db.writeVm(A, 'accept', 'action=accept dsthost=www.example')
  source.onLive()
  await settled()
  t.ok(db.entries.has(`/dns/${A}/www.example`))
  await db.rm(`/qubes-firewall/${A}/`)
  await db.rm(`/qubes-firewall/${A}`)
  source.onPath(`/qubes-firewall/${A}`)
  await settled()
  t.same(removals, [[A]])
  t.notOk(db.entries.has(`/dns/${A}/www.example`))
})

t.test('entries that cannot be read block the VM with the reason, and still count as taken', async (t) => {
  const { db, source, changes, settled } = harness(t)
  db.writeVm(A, 'accept')
  db.unreadable.add(`/qubes-firewall/${A}/`)
  source.onLive()
  await settled()
  t.same(changes[0]?.entries, { '/connected-ips': '', '/connected-ips6': '', [`/qubes-firewall/${A}`]: '' }, 'only the marker: a restart blocks it too')
  t.match(changes[0]?.unreadable.get(A), /malformed line/)
  t.equal(db.entries.get(`/qubes-firewall-handled/${A}`), '1')
})

t.test('a re-read after the watch restarted counts only VMs that changed meanwhile', async (t) => {
  const { db, source, settled } = harness(t)
  db.writeVm(A, 'accept')
  db.writeVm(B, 'accept')
  source.onLive()
  await settled()
  db.writeVm(B, 'drop')
  source.onLive()
  await settled()
  t.equal(db.entries.get(`/qubes-firewall-handled/${A}`), '1')
  t.equal(db.entries.get(`/qubes-firewall-handled/${B}`), '2')
})

t.test('paths that are not VM addresses are ignored, with a log line', async (t) => {
  const { db, source, changes, logged, settled } = harness(t)
  db.entries.set('/qubes-firewall/not-an-ip', '')
  db.entries.set('/qubes-firewall/010.137.0.5', '')
  source.onLive()
  await settled()
  t.same(Object.keys(changes[0]?.entries ?? {}), ['/connected-ips', '/connected-ips6'])
  t.equal(logged.length, 2)
})

t.test('parseMultiread: SUBPATH = VALUE lines; a line without a separator or a path twice is refused', async (t) => {
  const prefix = '/qubes-firewall/10.137.0.5/'
  t.same(parseMultiread(prefix, ''), new Map())
  t.same(parseMultiread(prefix, 'policy = drop\n0000 = action=accept comment=a = b\n'), new Map([[`${prefix}policy`, 'drop'], [`${prefix}0000`, 'action=accept comment=a = b']]))
  t.same(parseMultiread(prefix, 'policy = \n'), new Map([[`${prefix}policy`, '']]))
  t.throws(() => parseMultiread(prefix, 'policy = drop\nsecond line of a value\n'), /malformed line 'second line of a value'/)
  t.throws(() => parseMultiread(prefix, 'policy = drop\npolicy = accept\n'), /twice/)
})

t.test("formatDnsValue: Qubes 4.2's spelling", async (t) => {
  t.equal(formatDnsValue(['192.0.2.1'], 4), "{'192.0.2.1/32'}")
  t.equal(formatDnsValue(['2001:db8::1', '2001:db8::2'], 6), "{'2001:db8::1/128', '2001:db8::2/128'}")
  t.equal(formatDnsValue([], 4), 'set()')
})
