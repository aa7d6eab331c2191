// VMs of a push that carry the very same numbered entries are parsed once (push/same-rules.ts): each
// VM still gets exactly what parsing it alone gives, its rules or its failure naming itself.
import t from 'tap'
import type { VmEntry } from '../netvm-agent/push/model.js'
import { parsePush } from '../netvm-agent/push/parse.js'

const V4 = ['10.137.0.5', '10.137.0.6', '10.137.0.7', '10.137.0.8', '10.137.0.9', '10.137.0.10', '10.137.0.11']
const V6 = 'fd09:24ef:4179::a89:5'

function vmEntries(ip: string, rules: Record<string, string>, policy = 'drop'): Record<string, string> {
  const entries: Record<string, string> = { [`/qubes-firewall/${ip}`]: '', [`/qubes-firewall/${ip}/policy`]: policy }
  for (const [key, rule] of Object.entries(rules)) entries[`/qubes-firewall/${ip}/${key}`] = rule
  return entries
}

/** Each VM of `entries` as parsePush gives it, reading the VMs in order. */
function parsedVms(entries: Record<string, string>): Map<string, VmEntry> {
  return new Map(parsePush(entries).vms)
}

/** The VM parsed in a push of its own. */
function alone(entries: Record<string, string>, ip: string): VmEntry | undefined {
  const marker = `/qubes-firewall/${ip}`
  const own = Object.fromEntries(Object.entries(entries).filter(([key]) => key === marker || key.startsWith(`${marker}/`)))
  return parsePush(own).vms.get(ip)
}

const RULES = { '0000': 'action=accept dst4=192.0.2.0/24 proto=tcp dstports=443-443', '0001': 'action=drop proto=udp' }

t.test('VMs with the same entries share what they parsed to; each is what it would be alone', async (t) => {
  const entries = { ...vmEntries(V4[0] as string, RULES), ...vmEntries(V4[1] as string, RULES, 'accept') }
  const vms = parsedVms(entries)
  const [a, b] = [vms.get(V4[0] as string), vms.get(V4[1] as string)]
  if (!a?.ok || !b?.ok) throw new Error('both VMs parse')
  t.equal(a.vm.rules, b.vm.rules, 'one parse for both')
  t.equal(b.vm.policy, 'accept', 'the policy stays their own')
  for (const ip of [V4[0], V4[1]] as string[]) t.same(vms.get(ip), alone(entries, ip), `${ip} as parsed alone`)
})

t.test('a shared failure names each VM', async (t) => {
  const bad = { '0000': 'action=accept proto=tcp dstports=443', '0001': 'action=accept proto=tcp dstports=99999' }
  const entries = { ...vmEntries(V4[0] as string, bad), ...vmEntries(V4[1] as string, bad) }
  const vms = parsedVms(entries)
  for (const ip of [V4[0], V4[1]] as string[]) {
    const vm = vms.get(ip)
    t.same(vm, { ok: false, failure: { ip, family: 4, error: "invalid port '99999' (expected a number 0-65535)", rule: 1 } })
    t.same(vm, alone(entries, ip))
  }
})

t.test('entries that differ anywhere, in a value, a key or the family, are parsed apart', async (t) => {
  const lastDiffers = { ...RULES, '0001': 'action=drop proto=tcp' }
  const renumbered = { '0000': RULES['0000'], '0005': RULES['0001'] }
  const entries = {
    ...vmEntries(V4[0] as string, RULES),
    ...vmEntries(V4[1] as string, lastDiffers),
    ...vmEntries(V4[2] as string, renumbered),
    ...vmEntries(V6, RULES),
  }
  const vms = parsedVms(entries)
  for (const ip of [V4[0], V4[1], V4[2], V6] as string[]) t.same(vms.get(ip), alone(entries, ip), `${ip} as parsed alone`)
  const rulesOf = (ip: string) => {
    const vm = vms.get(ip)
    return vm?.ok ? vm.vm.rules : undefined
  }
  t.equal(rulesOf(V4[1] as string)?.[1]?.l4.kind, 'ports')
  t.same(rulesOf(V4[2] as string)?.map((r) => r.number), [0, 5])
  t.match(vms.get(V6), { ok: false, failure: { error: 'dst4 is an IPv4 address in the rules of an IPv6 VM', rule: 0 } })
})

t.test('many lists of one length interleaved: each VM still parses as it would alone', async (t) => {
  const lists = [0, 1, 2, 3, 4, 5].map((n) => ({ '0000': `action=accept dst4=198.51.100.${n} proto=tcp dstports=${n + 1}-${n + 1}` }))
  const entries: Record<string, string> = {}
  // seven VMs, lists 0..5 then list 0 again: more lists of that length than are kept apart
  V4.forEach((ip, i) => Object.assign(entries, vmEntries(ip, lists[i % lists.length] as Record<string, string>)))
  const vms = parsedVms(entries)
  for (const ip of V4) t.same(vms.get(ip), alone(entries, ip), `${ip} as parsed alone`)
})
