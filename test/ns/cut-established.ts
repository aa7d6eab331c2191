// Established connections the new rules no longer allow are cut at apply: the VM's next packet
// gets a TCP reset (and the RST gets through to the VM); connections still allowed survive.
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { ROOT, VM_A, VM_A6, WWW, WWW6, makeLab, push } from './harness.js'

const lab = await makeLab(t)
if (lab) {
  const both = (policy: 'drop', ports: number[]) => ({
    [VM_A]: { policy, rules: ports.map((p) => `action=accept dst4=${WWW} proto=tcp dstports=${p}-${p}`) },
    [VM_A6]: { policy, rules: ports.map((p) => `action=accept dst6=${WWW6} proto=tcp dstports=${p}-${p}`) },
  })
  await lab.apply(push(both('drop', [80, 443])))

  const held = [`${WWW}:80`, `${WWW}:443`, `${WWW6}:80`, `${WWW6}:443`]
  const hold = lab.spawn(lab.ns.a, process.execPath, [join(ROOT, 'test/fixtures/bin/hold.mjs'), ...held])
  const lines = createInterface({ input: hold.stdout! })[Symbol.asyncIterator]()
  const next = async (): Promise<Record<string, Record<string, string>>> => {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('hold.mjs did not answer')), 8000)))
    const line = await Promise.race([lines.next(), timeout]).finally(() => clearTimeout(timer))
    if (line.done) throw new Error('hold.mjs exited')
    return JSON.parse(line.value) as Record<string, Record<string, string>>
  }
  const round = async () => {
    hold.stdin!.write('go\n')
    return (await next())['results'] ?? {}
  }

  await t.test('connections are up and carry data', async (t) => {
    const { connected = {} } = await next()
    for (const target of held) t.equal(connected[target], 'ok', `connected to ${target}`)
    const results = await round()
    for (const target of held) t.equal(results[target], 'echo', `${target} echoes`)
  })

  await t.test('after an apply that drops port 80: 80 is reset at the next write, 443 lives on', async (t) => {
    await lab.apply(push(both('drop', [443])))
    const results = await round()
    t.equal(results[`${WWW}:80`], 'reset', `${WWW}:80 is cut (RST)`)
    t.equal(results[`${WWW6}:80`], 'reset', `${WWW6}:80 is cut (RST)`)
    t.equal(results[`${WWW}:443`], 'echo', `${WWW}:443 still echoes`)
    t.equal(results[`${WWW6}:443`], 'echo', `${WWW6}:443 still echoes`)
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused', [`tcp:${WWW6}:80`]: 'refused', [`tcp:${WWW}:443`]: 'allowed' })
  })

  await t.test('the surviving connections keep working through a further apply', async (t) => {
    await lab.apply(push(both('drop', [443, 22])))
    const results = await round()
    t.equal(results[`${WWW}:443`], 'echo', `${WWW}:443 still echoes`)
    t.equal(results[`${WWW6}:443`], 'echo', `${WWW6}:443 still echoes`)
  })

  await t.test("a VM that fails closed loses its connections; its other address's survive", async (t) => {
    const entries = push(both('drop', [443]))
    entries[`/qubes-firewall/${VM_A}/0001`] = 'action=accept proto=tcp dstports=99999'
    const r = await lab.agent('apply', entries)
    t.not(r.exitCode, 0, 'apply exits non-zero')
    const results = await round()
    t.equal(results[`${WWW}:443`], 'reset', `${WWW}:443 is cut (RST): ${VM_A} failed closed`)
    t.equal(results[`${WWW6}:443`], 'echo', `${WWW6}:443 still echoes: ${VM_A6} has good rules`)
  })
}
