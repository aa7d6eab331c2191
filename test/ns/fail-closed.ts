// Fail closed, per VM: a VM whose rules do not parse gets all its traffic blocked (not left on its
// old rules, not opened), the error names it, and the other VMs keep working.
import t from 'tap'
import { CDN, VM_A, VM_B, WWW, makeLab, push, type Entries } from './harness.js'

const good = push({
  [VM_A]: { policy: 'accept', rules: [`action=accept dst4=${WWW} proto=tcp dstports=80-80`] },
  [VM_B]: { policy: 'drop', rules: [`action=accept dst4=${WWW} proto=tcp`] },
})

/** The good push with VM a's keys replaced by `a`. */
function withA(a: Entries): Entries {
  const others = Object.fromEntries(Object.entries(good).filter(([key]) => !key.startsWith(`/qubes-firewall/${VM_A}`)))
  return { ...others, [`/qubes-firewall/${VM_A}`]: '', ...a }
}
const A = `/qubes-firewall/${VM_A}`

// [what, a's entries, the error line wanted on stderr]
const cases: [what: string, a: Entries, want: RegExp][] = [
  [
    'a port out of range',
    { [`${A}/policy`]: 'accept', [`${A}/0000`]: `action=accept dst4=${WWW} proto=tcp dstports=80-80`, [`${A}/0001`]: 'action=drop proto=tcp dstports=70000' },
    /^qubes-firewall-agent: 10\.137\.0\.5: rule 1: .*70000/m,
  ],
  ['no policy', { [`${A}/0000`]: `action=accept dst4=${WWW} proto=tcp dstports=80-80` }, /^qubes-firewall-agent: 10\.137\.0\.5: .*policy/m],
  ['an unknown option', { [`${A}/policy`]: 'accept', [`${A}/0000`]: 'action=accept frobnicate=yes' }, /^qubes-firewall-agent: 10\.137\.0\.5: rule 0: .*frobnicate/m],
  ['an IPv6 destination in an IPv4 VM', { [`${A}/policy`]: 'accept', [`${A}/0000`]: 'action=drop dst6=2001:db8::10' }, /^qubes-firewall-agent: 10\.137\.0\.5: rule 0: .*IPv6/m],
  ['a key that is no rule number', { [`${A}/policy`]: 'accept', [`${A}/first`]: 'action=drop' }, /^qubes-firewall-agent: 10\.137\.0\.5: .*first/m],
  ['an invalid action', { [`${A}/policy`]: 'accept', [`${A}/0000`]: 'action=allow' }, /^qubes-firewall-agent: 10\.137\.0\.5: rule 0: .*allow/m],
]

const lab = await makeLab(t)
if (lab) {
  await t.test('the good push: a and b reach what they may', async (t) => {
    await lab.apply(good)
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${CDN}:443`]: 'allowed' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${CDN}:80`]: 'refused' })
  })

  for (const [what, a, want] of cases) {
    await t.test(`a's rules with ${what}: a blocked, b unaffected`, async (t) => {
      const r = await lab.agent('apply', withA(a))
      t.not(r.exitCode, 0, 'apply exits non-zero')
      t.match(r.stderr, want, 'the error names VM a')
      t.notMatch(r.stderr, /10\.137\.0\.6/, 'and not VM b')
      // blocked: neither its old rules nor its accept policy let anything through
      await Promise.all([
        lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused', [`tcp:${CDN}:443`]: 'refused', [`udp:${WWW}:80`]: 'refused' }),
        lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${CDN}:80`]: 'refused' }),
      ])
      // and a good push opens a again
      await lab.apply(good)
      await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed' }, { label: 'after the good push' })
    })
  }

  await t.test('a push malformed as a whole changes nothing', async (t) => {
    const before = await lab.rulesetShape()
    const r = await lab.agent('apply', { ...good, '/connected-ips': `${VM_A} not-an-address` })
    t.not(r.exitCode, 0, 'apply exits non-zero')
    t.match(r.stderr, /connected-ips/, 'the error names the key')
    t.equal(await lab.rulesetShape(), before, 'the ruleset is unchanged (what traffic counts aside)')
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed' })
  })
}
