// A push's VMs are parsed when first read (push/vms-parsed-on-read.ts): read in any way, they are what
// parsing each VM at once gives; only VMs with a dsthost= are listed as needing names resolved first.
import t from 'tap'
import { parsePush } from '../netvm-agent/push/parse.js'
import type { VmEntry } from '../netvm-agent/push/model.js'
import { VmsParsedOnRead } from '../netvm-agent/push/vms-parsed-on-read.js'
import { resolvePushNames } from '../netvm-agent/names/resolve.js'

const entries: Record<string, string> = {
  '/qubes-firewall/10.137.0.5': '',
  '/qubes-firewall/10.137.0.5/policy': 'drop',
  '/qubes-firewall/10.137.0.5/0000': 'action=accept dsthost=example.com proto=tcp dstports=443',
  '/qubes-firewall/10.137.0.6': '',
  '/qubes-firewall/10.137.0.6/policy': 'accept',
  '/qubes-firewall/10.137.0.6/0000': 'action=drop dst4=192.0.2.0/24',
  '/qubes-firewall/10.137.0.7': '',
  '/qubes-firewall/10.137.0.7/policy': 'drop',
  '/qubes-firewall/10.137.0.7/0000': 'action=accept proto=tcp dstports=99999',
  // a dsthost= that is an address: listed (read before), though it names no host
  '/qubes-firewall/fd09:24ef:4179::a89:6': '',
  '/qubes-firewall/fd09:24ef:4179::a89:6/policy': 'drop',
  '/qubes-firewall/fd09:24ef:4179::a89:6/0000': 'action=accept dsthost=2001:db8::1',
  // not complete (no marker): not a VM of the push at all
  '/qubes-firewall/10.137.0.8/policy': 'drop',
}
const ips = ['10.137.0.5', '10.137.0.6', '10.137.0.7', 'fd09:24ef:4179::a89:6']

/** Each VM read through get(), one at a time: what a full load's render does. */
function readOneByOne(vms: ReadonlyMap<string, VmEntry>): Map<string, VmEntry> {
  return new Map([...vms.keys()].map((ip) => [ip, vms.get(ip) as VmEntry]))
}

t.test('keys, size and has come from the keys alone, in push order; the incomplete VM is not there', async (t) => {
  const push = parsePush(entries)
  t.ok(push.vms instanceof VmsParsedOnRead)
  t.same([...push.vms.keys()], ips)
  t.equal(push.vms.size, 4)
  t.ok(push.vms.has('10.137.0.6'))
  t.notOk(push.vms.has('10.137.0.8'))
  t.equal(push.vms.get('10.137.0.8'), undefined)
  t.same(push.ignored, ['/qubes-firewall/10.137.0.8/*'])
})

t.test('read one by one, or iterated in any of the map ways, the VMs are the same', async (t) => {
  const oneByOne = readOneByOne(parsePush(entries).vms)
  t.same(new Map(parsePush(entries).vms), oneByOne, 'iterator')
  t.same(new Map(parsePush(entries).vms.entries()), oneByOne, 'entries()')
  t.same([...parsePush(entries).vms.values()], [...oneByOne.values()], 'values()')
  const viaForEach = new Map<string, VmEntry>()
  parsePush(entries).vms.forEach((entry, ip) => viaForEach.set(ip, entry))
  t.same(viaForEach, oneByOne, 'forEach()')
  t.match(oneByOne.get('10.137.0.5'), { ok: true, vm: { policy: 'drop', rules: [{ number: 0, dsthost: { kind: 'name', name: 'example.com' } }] } })
  t.match(oneByOne.get('10.137.0.6'), { ok: true, vm: { policy: 'accept', rules: [{ number: 0, action: 'drop' }] } })
  // a VM whose rule does not parse fails closed when read, naming its rule
  t.match(oneByOne.get('10.137.0.7'), { ok: false, failure: { ip: '10.137.0.7', family: 4, rule: 0, error: /99999/ } })
  t.match(oneByOne.get('fd09:24ef:4179::a89:6'), { ok: true, vm: { family: 6 } })
})

t.test('a VM is parsed once: every read gives the same entry', async (t) => {
  const vms = parsePush(entries).vms
  const first = vms.get('10.137.0.6')
  t.equal(vms.get('10.137.0.6'), first)
  t.equal(new Map(vms).get('10.137.0.6'), first)
})

t.test('only VMs with a dsthost= need their names resolved before the load', async (t) => {
  const vms = parsePush(entries).vms as VmsParsedOnRead
  t.same([...vms.mayNameHosts()], ['10.137.0.5', 'fd09:24ef:4179::a89:6'])
  const asked: string[][] = []
  const resolutions = await resolvePushNames(
    { vms, ignored: [] },
    {
      resolve: async (names) => {
        asked.push([...names])
        return new Map(names.map((name) => [name, { addresses: ['192.0.2.80'] }]))
      },
      nameservers: () => ({ 4: [], 6: [] }),
      now: () => 0,
    },
  )
  t.same(asked, [['example.com']])
  t.same([...resolutions.keys()], ['10.137.0.5', 'fd09:24ef:4179::a89:6'], 'VMs without a name have no entry (none to look up)')
  t.same(resolutions.get('10.137.0.5')?.get('example.com' as never), { addresses: ['192.0.2.80'] })
})
