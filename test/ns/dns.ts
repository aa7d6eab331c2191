// Names in rules are resolved by the agent at apply time (a real dnsmasq upstream), a dsthost
// matches every address it resolved to, specialtarget=dns means the netvm's nameservers on port 53,
// and a name that does not resolve fails closed at its own position, reported with VM, rule and name.
import t from 'tap'
import { CDN, DNS, VM_A, VM_B, VM_B6, WWW, WWW6, makeLab, push } from './harness.js'

const lab = await makeLab(t, { dns: true })
if (lab) {
  await t.test('dsthost: allowed to what the name resolved to, nothing else', async (t) => {
    const r = await lab.agent(
      'apply',
      push({
        [VM_A]: { policy: 'drop', rules: ['action=accept dsthost=www.lab.example proto=tcp dstports=80-80'] },
        // every address of the name, A and AAAA
        [VM_B]: { policy: 'drop', rules: ['action=accept dsthost=multi.lab.example proto=tcp'] },
        [VM_B6]: { policy: 'drop', rules: ['action=accept dsthost=multi.lab.example proto=tcp'] },
      }),
    )
    t.equal(r.exitCode, 0, `apply exits 0 (${r.stderr.trim()})`)
    await lab.expect(t, 'a', {
      [`tcp:${WWW}:80`]: 'allowed',
      [`tcp:${WWW}:443`]: 'refused',
      [`tcp:${CDN}:80`]: 'refused',
    })
    await lab.expect(t, 'b', {
      [`tcp:${WWW}:443`]: 'allowed',
      [`tcp:${CDN}:443`]: 'allowed',
      [`udp:${CDN}:443`]: 'refused',
      [`tcp:${WWW6}:443`]: 'allowed',
    })
  })

  await t.test('specialtarget=dns: UDP and TCP 53 to the nameserver of resolv.conf, only', async (t) => {
    const r = await lab.agent('apply', push({ [VM_A]: { policy: 'drop', rules: ['action=accept specialtarget=dns'] } }))
    t.equal(r.exitCode, 0, `apply exits 0 (${r.stderr.trim()})`)
    await lab.expect(t, 'a', {
      [`dns:${DNS}:53`]: 'allowed',
      [`tcp:${DNS}:53`]: 'allowed',
      // dnsmasq has no port 80: "closed" would mean the firewall let it through
      [`tcp:${DNS}:80`]: 'refused',
      // an echo server answers on 192.0.2.10 port 53: not a nameserver of the netvm
      [`udp:${WWW}:53`]: 'refused',
      [`tcp:${WWW}:53`]: 'refused',
      [`tcp:${WWW}:80`]: 'refused',
    })
  })

  await t.test('a name that does not resolve fails closed at its position, and is reported', async (t) => {
    const r = await lab.agent(
      'apply',
      push({
        // accept rule: matches nothing, the other rules still work
        [VM_A]: {
          policy: 'drop',
          rules: ['action=accept dsthost=nope.lab.example proto=tcp', `action=accept dst4=${CDN} proto=tcp`],
        },
        // drop rule: drop-all from its position on
        [VM_B]: {
          policy: 'accept',
          rules: [
            `action=accept dst4=${WWW} proto=tcp dstports=22-22`,
            'action=drop dsthost=gone.lab.example proto=tcp dstports=443-443',
            `action=accept dst4=${WWW} proto=tcp dstports=80-80`,
          ],
        },
      }),
    )
    t.not(r.exitCode, 0, 'apply exits non-zero')
    t.match(r.stderr, /^qubes-firewall-agent: 10\.137\.0\.5: rule 0: .*nope\.lab\.example/m, 'names VM a, rule 0 and the name')
    t.match(r.stderr, /^qubes-firewall-agent: 10\.137\.0\.6: rule 1: .*gone\.lab\.example/m, 'names VM b, rule 1 and the name (every failing rule)')
    t.equal(r.stderr.trim().split('\n').length, 2, 'one line per failing rule')
    await lab.expect(t, 'a', {
      [`tcp:${CDN}:80`]: 'allowed',
      [`tcp:${WWW}:80`]: 'refused',
    })
    await lab.expect(t, 'b', {
      [`tcp:${WWW}:22`]: 'allowed',
      // after the unresolved drop rule: everything, also what a later rule or the policy accepts
      [`tcp:${WWW}:80`]: 'refused',
      [`tcp:${WWW}:443`]: 'refused',
      [`udp:${CDN}:5000`]: 'refused',
    })
  })

  await t.test('names are resolved at apply, not per connection', async (t) => {
    const r = await lab.agent('apply', push({ [VM_A]: { policy: 'drop', rules: ['action=accept dsthost=www.lab.example proto=tcp dstports=80-80'] } }))
    t.equal(r.exitCode, 0, 'apply exits 0')
    // the nameserver is gone: the loaded rules still hold, without asking it again
    await lab.exec(lab.ns.up, 'ip', ['addr', 'del', `${DNS}/24`, 'dev', 'eth0'])
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${CDN}:80`]: 'refused' })
  })

  await t.test('a nameserver that does not answer: bounded wait, the name fails closed', async (t) => {
    // the resolver's own timeouts bound the wait: the apply returning at all is the proof
    const r = await lab.agent(
      'apply',
      push({ [VM_A]: { policy: 'drop', rules: ['action=accept dsthost=www.lab.example proto=tcp dstports=80-80', `action=accept dst4=${CDN} proto=tcp`] } }),
    )
    t.not(r.exitCode, 0, 'apply exits non-zero')
    t.match(r.stderr, /^qubes-firewall-agent: 10\.137\.0\.5: rule 0: .*www\.lab\.example/m, 'names VM, rule and name')
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused', [`tcp:${CDN}:80`]: 'allowed' })
  })
}
