// VMs stay isolated from each other even when their rules accept everything, and a VM cannot
// send with another VM's (or any foreign) source address: anti-spoofing drops it at the vif.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { VM_A, VM_A6, VM_B, VM_B6, WWW, WWW6, echoLog, makeLab, push } from './harness.js'

const lab = await makeLab(t)
if (lab) {
  const bLog = join(lab.dir, 'vm-b.log')
  writeFileSync(bLog, '')
  await lab.startVmEchoServer('b', [80], bLog)

  await t.test('VM to VM is blocked although both accept everything', async (t) => {
    await lab.apply(
      push({
        [VM_A]: { policy: 'accept', rules: ['action=accept'] },
        [VM_A6]: { policy: 'accept', rules: ['action=accept'] },
        [VM_B]: { policy: 'accept', rules: ['action=accept'] },
        [VM_B6]: { policy: 'accept', rules: ['action=accept'] },
      }),
    )
    // control: the rules do let both out
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW6}:80`]: 'allowed' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed' })
    // control: b's server answers across the firewall, so silence from it means a drop
    await lab.expect(t, 'fw', { [`tcp:${VM_B}:80`]: 'allowed', [`tcp:${VM_B6}:80`]: 'allowed' })
    const payload = `isolation-${process.pid}`
    const got = await lab.probe('a', [`tcp:${VM_B}:80`, `udp:${VM_B}:80`, `tcp:${VM_B6}:80`, `udp:${VM_B6}:80`], { timeoutMs: 5000, payload })
    for (const [target, { result }] of Object.entries(got)) t.not(result, 'allowed', `a -> ${target} is not allowed (${result})`)
    const reachedB = readFileSync(bLog, 'utf8').split('\n').filter((line) => line.endsWith(` from ${VM_A}`) || line.endsWith(` from ${VM_A6}`))
    t.same(reachedB, [], 'nothing from a reached b')
  })

  await t.test('a VM cannot spoof another VM (or any foreign) source address', async (t) => {
    // a may send nothing; b may send everything: with b's address a would get b's rights
    await lab.apply(
      push({
        [VM_A]: { policy: 'drop', rules: [] },
        [VM_A6]: { policy: 'drop', rules: [] },
        [VM_B]: { policy: 'accept', rules: [] },
        [VM_B6]: { policy: 'accept', rules: [] },
      }),
    )
    await lab.exec(lab.ns.a, 'ip', ['addr', 'add', `${VM_B}/32`, 'dev', 'eth0'])
    await lab.exec(lab.ns.a, 'ip', ['addr', 'add', '10.137.0.99/32', 'dev', 'eth0'])
    await lab.exec(lab.ns.a, 'ip', ['-6', 'addr', 'add', `${VM_B6}/128`, 'dev', 'eth0', 'nodad'])
    const spoofs: [bind: string, target: string][] = [
      [VM_B, WWW],
      ['10.137.0.99', WWW],
      [VM_B6, WWW6],
    ]
    // controls first, on the same paths: b with the same addresses gets through, and a with its
    // own address gets an answer (refused), so a's silence as another address is a drop
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW6}:80`]: 'allowed' })
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused' }, { bind: VM_A })
    const results = await Promise.all(
      spoofs.map(([bind, dst]) => lab.probe('a', [`tcp:${dst}:80`, `udp:${dst}:80`], { bind, timeoutMs: 5000, payload: `spoof-${bind}` })),
    )
    spoofs.forEach(([bind, dst], i) => {
      for (const [target, { result }] of Object.entries(results[i] ?? {})) {
        t.equal(result, 'timeout', `a sending as ${bind} -> ${target}: dropped (${result})`)
      }
      t.notMatch(echoLog(lab), `spoof-${bind}`, `nothing a sent as ${bind} reached ${dst}`)
    })
  })
}
