// The agent never touches what it did not create: a user's rules in custom-forward / custom-dnat
// and a user's own table survive every apply, and keep acting on packets.
import t, { type Test } from 'tap'
import { VM_A, VM_A6, VM_B, WWW, WWW6, makeLab, push } from './harness.js'

const lab = await makeLab(t)
if (lab) {
  const open = push({
    [VM_A]: { policy: 'accept', rules: [] },
    [VM_A6]: { policy: 'accept', rules: [] },
    [VM_B]: { policy: 'accept', rules: [] },
  })
  await lab.apply(open)

  const userRules: string[][] = [
    ['add', 'rule', 'ip', 'qubes', 'custom-forward', 'ip', 'daddr', WWW, 'tcp', 'dport', '22', 'counter', 'reject', 'with', 'icmp', 'type', 'admin-prohibited', 'comment', '"user-22"'],
    ['add', 'rule', 'ip6', 'qubes', 'custom-forward', 'ip6', 'daddr', WWW6, 'tcp', 'dport', '22', 'counter', 'reject', 'with', 'icmpv6', 'type', 'admin-prohibited', 'comment', '"user6-22"'],
    ['add', 'rule', 'ip', 'qubes', 'custom-dnat', 'iifname', '"vif*"', 'tcp', 'dport', '9999', 'counter', 'comment', '"user-dnat"'],
    ['add', 'table', 'inet', 'mine'],
    ['add', 'chain', 'inet', 'mine', 'guard', '{ type filter hook forward priority 10 ; policy accept ; }'],
    ['add', 'rule', 'inet', 'mine', 'guard', 'tcp', 'dport', '443', 'reject', 'with', 'icmpx', 'type', 'admin-prohibited', 'comment', '"user-443"'],
  ]
  for (const args of userRules) {
    const r = await lab.nft(...args)
    if (r.exitCode !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr}`)
  }

  const check = async (t: Test, label: string) => {
    const ruleset = (await lab.nft('list', 'ruleset')).stdout
    for (const comment of ['user-22', 'user6-22', 'user-dnat', 'user-443']) t.match(ruleset, `comment "${comment}"`, `${label}: user rule ${comment} is there`)
    t.match(ruleset, /table inet mine \{/, `${label}: table inet mine is there`)
    const forward = (await lab.nft('list', 'chain', 'ip', 'qubes', 'custom-forward')).stdout
    t.equal(forward.match(/jump qf-forward/g)?.length, 1, `${label}: the agent's jump is in custom-forward exactly once`)
    t.ok(forward.indexOf('jump qf-forward') < forward.indexOf('user-22'), `${label}: the agent's jump comes before the user's rule`)
    // and they still act on packets
    await lab.expect(t, 'a', {
      [`tcp:${WWW}:80`]: 'allowed',
      [`tcp:${WWW}:22`]: 'refused',
      [`tcp:${WWW}:443`]: 'refused',
      [`udp:${WWW}:443`]: 'allowed',
      [`tcp:${WWW6}:22`]: 'refused',
      [`tcp:${WWW6}:80`]: 'allowed',
    }, { label })
  }

  await t.test('user rules act once added', (t) => check(t, 'added'))

  await t.test('user rules survive a re-apply of the same push', async (t) => {
    await lab.apply(open)
    await check(t, 're-apply 1')
  })

  await t.test('user rules survive a re-apply of changed rules', async (t) => {
    await lab.apply(
      push({
        // the VM's rules cannot re-open what the user closed
        [VM_A]: { policy: 'drop', rules: [`action=accept dst4=${WWW} proto=tcp`, `action=accept dst4=${WWW} proto=udp`] },
        [VM_A6]: { policy: 'drop', rules: [`action=accept dst6=${WWW6} proto=tcp`] },
        [VM_B]: { policy: 'accept', rules: [] },
      }),
    )
    await check(t, 're-apply 2')
  })
}
