// A full disk under the daemon's state: a change it cannot persist is rolled back in the kernel and
// answered as failed, so the answer, the rules in force and a restart agree (nothing is half-kept).
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { VM_A, WWW, makeLab, push } from './harness.js'

const lab = await makeLab(t)
if (lab) {
  // the state on a tmpfs of its own, small enough to fill
  mkdirSync(lab.stateDir, { recursive: true })
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'qf-state', lab.stateDir])
  t.teardown(() => execFileSync('umount', ['-l', lab.stateDir]))
  const fill = () => {
    // fill it to the last byte (a write that no longer fits fails with ENOSPC)
    try {
      for (let i = 0; ; i++) writeFileSync(join(lab.stateDir, `fill-${i}`), Buffer.alloc(4096, 1))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
    }
    for (let size = 2048; size >= 1; size = Math.floor(size / 2)) {
      try {
        for (let i = 0; ; i++) writeFileSync(join(lab.stateDir, `small-${size}-${i}`), Buffer.alloc(size, 1))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      }
    }
  }
  // 250 more VMs: forgetting them all at once takes a journal line longer than a page
  const others = Array.from({ length: 250 }, (_, i) => `10.137.${1 + Math.floor(i / 200)}.${1 + (i % 200)}`)
  const port80 = push({
    [VM_A]: { policy: 'drop', rules: [`action=accept dst4=${WWW} proto=tcp dstports=80-80`] },
    ...Object.fromEntries(others.map((ip) => [ip, { policy: 'drop' as const, rules: [] }])),
  })
  // long enough (> a 4 KiB page) that its journal line needs space the full disk does not have
  const filler = Array.from({ length: 120 }, (_, i) => `action=accept dst4=198.18.${i}.0/24 proto=udp dstports=9-9`)
  const port443 = push({ [VM_A]: { policy: 'drop', rules: [`action=accept dst4=${WWW} proto=tcp dstports=443-443`, ...filler] } })

  let daemon = await lab.startDaemon()
  t.teardown(() => daemon.terminate().catch(() => undefined))

  await t.test('an update that cannot be persisted is rolled back and answered as failed', async (t) => {
    t.match(await daemon.request({ op: 'replace', entries: port80 }), { ok: true })
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' }, { label: 'before' })
    fill()
    const update = await daemon.request({ op: 'update', entries: port443 })
    t.match(update, { ok: false, error: /^could not persist the change \(ENOSPC\); rolled back: the rules before it stay in force$/ })
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' }, { label: 'the old rules in force' })
  })

  await t.test('a remove that cannot be persisted is rolled back and answered as failed', async (t) => {
    const remove = await daemon.request({ op: 'remove', ips: [VM_A, ...others] })
    t.match(remove, { ok: false, error: /^could not persist the change \(ENOSPC\); rolled back: the rules before it stay in force$/ })
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' }, { label: "a's rules still in force" })
    const loaded = ((await daemon.request({ op: 'status' }))['vms'] as { ip: string }[]).map((vm) => vm.ip)
    t.equal(loaded.length, 1 + others.length, 'every VM is loaded again')
  })

  await t.test('a restart agrees with what was answered', async (t) => {
    await daemon.terminate()
    await lab.nft('flush', 'ruleset')
    daemon = await lab.startDaemon()
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' }, { label: 'after restart' })
  })
}
