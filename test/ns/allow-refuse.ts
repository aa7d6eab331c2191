// A VM reaches what its rules allow and nothing else; the rest is rejected (ICMP admin-prohibited),
// so clients fail fast. Real TCP, UDP and ICMP between namespaces, IPv4 and IPv6.
import t from 'tap'
import { CDN, VM_A, VM_A6, VM_B, VM_B6, WWW, WWW6, makeLab, push } from './harness.js'

const lab = await makeLab(t)
if (lab) {
  const entries = push({
    [VM_A]: {
      policy: 'drop',
      rules: [
        `action=accept dst4=${WWW} proto=tcp dstports=80-80`,
        `action=accept dst4=${WWW} proto=tcp dstports=8080-8081`,
        // Qubes: dstports without proto covers tcp and udp
        `action=accept dst4=${WWW} dstports=5000-5000`,
        `action=accept dst4=${WWW} proto=icmp icmptype=8`,
        // host bits set: the network is meant, as Qubes does
        'action=accept dst4=198.51.100.77/24 proto=udp dstports=443-443',
      ],
    },
    [VM_A6]: {
      policy: 'drop',
      rules: [`action=accept dst6=${WWW6} proto=tcp dstports=80-80`, 'action=accept dst6=2001:db8::/64 proto=icmp'],
    },
    [VM_B]: { policy: 'accept', rules: [`action=drop dst4=${CDN} proto=tcp`] },
    [VM_B6]: { policy: 'accept', rules: [`action=drop dst6=${WWW6} proto=tcp dstports=443-443`] },
  })

  await t.test('apply loads the rules of every VM', async (t) => {
    const r = await lab.agent('apply', entries)
    t.equal(r.exitCode, 0, 'apply exits 0')
    t.equal(r.stderr, '', 'nothing on stderr')
    t.match(r.stdout, /applied rules of 4 VM\(s\)/)
  })

  await t.test('policy drop: only the listed destinations, ports and protocols (IPv4)', async (t) => {
    // 'refused' is the ICMP admin-prohibited answer itself: the client fails at once, not by a timeout
    await lab.expect(t, 'a', {
      [`tcp:${WWW}:80`]: 'allowed',
      [`tcp:${WWW}:443`]: 'refused',
      [`tcp:${WWW}:22`]: 'refused',
      [`udp:${WWW}:80`]: 'refused',
      // the range 8080-8081, its edges and just outside
      [`tcp:${WWW}:8079`]: 'refused',
      [`tcp:${WWW}:8080`]: 'allowed',
      [`tcp:${WWW}:8081`]: 'allowed',
      [`tcp:${WWW}:8082`]: 'refused',
      // dstports and no proto: tcp and udp
      [`tcp:${WWW}:5000`]: 'allowed',
      [`udp:${WWW}:5000`]: 'allowed',
      [`tcp:${WWW}:5001`]: 'refused',
      [`udp:${WWW}:5001`]: 'refused',
      // a prefix (given with host bits), udp only
      [`udp:${CDN}:443`]: 'allowed',
      [`tcp:${CDN}:443`]: 'refused',
      [`tcp:${CDN}:80`]: 'refused',
    })
  })

  await t.test('icmp rule: ping allowed where the rule says, refused elsewhere', async (t) => {
    t.equal(await lab.ping('a', WWW), 'allowed', `a pings ${WWW} (proto=icmp icmptype=8)`)
    t.equal(await lab.ping('a', CDN), 'refused', `a cannot ping ${CDN}: admin-prohibited`)
    t.equal(await lab.ping('a', WWW6), 'allowed', `a pings ${WWW6} (proto=icmp, IPv6 rules)`)
  })

  await t.test('policy accept: everything but the drop rules (IPv4)', async (t) => {
    await lab.expect(t, 'b', {
      [`tcp:${WWW}:443`]: 'allowed',
      [`tcp:${WWW}:22`]: 'allowed',
      [`udp:${WWW}:22`]: 'allowed',
      [`tcp:${CDN}:80`]: 'refused',
      [`tcp:${CDN}:443`]: 'refused',
      // the drop rule is tcp only
      [`udp:${CDN}:80`]: 'allowed',
    })
    t.equal(await lab.ping('b', CDN), 'allowed', `b pings ${CDN}`)
  })

  await t.test('IPv6: the VM address has rules of its own', async (t) => {
    // an ICMPv6 error for a SYN is reported at the first retransmission, 1 s later (see STYLE):
    // still an answer, well within the probe's wait
    await lab.expect(t, 'a', {
      [`tcp:${WWW6}:80`]: 'allowed',
      [`tcp:${WWW6}:443`]: 'refused',
      [`udp:${WWW6}:80`]: 'refused',
    })
    await lab.expect(t, 'b', {
      [`tcp:${WWW6}:80`]: 'allowed',
      [`tcp:${WWW6}:443`]: 'refused',
      [`udp:${WWW6}:443`]: 'allowed',
    })
  })

  await t.test('a VM that is absent from the push is refused everything', async (t) => {
    const withoutB = Object.fromEntries(Object.entries(entries).filter(([key]) => !key.startsWith(`/qubes-firewall/${VM_B}`)))
    const r = await lab.agent('apply', withoutB)
    t.equal(r.exitCode, 0, 'apply exits 0')
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'refused', [`udp:${WWW}:22`]: 'refused' })
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' })
    // b's IPv6 address still has its rules
    await lab.expect(t, 'b', { [`tcp:${WWW6}:80`]: 'allowed' })
  })
}
