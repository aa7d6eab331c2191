// Names follow DNS with no dom0 action: a real dnsmasq (answers from a hosts file it rereads on
// SIGHUP, TTL 1 s) changes what svc.lab.example stands for, and the daemon's refresh moves the
// name's set: the new address is reached, the old one keeps matching through its grace and then
// not; a name that stops resolving keeps its addresses through the grace, then fails closed at its
// position (an accept rule matches nothing, a drop rule drops all from there); and it comes back.
// Each step waits for the daemon's own line saying it happened, never for time.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { until } from '../helpers/wait.js'
import { CDN, VM_A, VM_B, WWW, makeLab, push, vmChains } from './harness.js'

const NAME = 'svc.lab.example'
/** Long enough for the probes inside it to run first on a loaded machine; checked, not assumed. */
const GRACE_S = 8

const lab = await makeLab(t)
if (lab) {
  const hosts = join(lab.dir, 'hosts')
  writeFileSync(hosts, `${WWW} ${NAME}\n`)
  const dnsmasq = await lab.startDnsmasq([`--addn-hosts=${hosts}`, '--local-ttl=1'])
  /** A new answer for the name (none: NXDOMAIN, the domain is dnsmasq's own), reread at once. */
  const answer = (address: string | undefined) => {
    writeFileSync(hosts, address === undefined ? '' : `${address} ${NAME}\n`)
    dnsmasq.kill('SIGHUP')
  }
  const daemon = await lab.startDaemon({ serveArgs: ['--refresh-min-ttl', '1', '--grace', String(GRACE_S)] })
  t.teardown(() => daemon.terminate())
  /** Waits for the daemon's line about the name for VM `ip`, counting only lines after `from`. */
  const said = (from: number, ip: string, pattern: RegExp) =>
    until(`the daemon saying ${pattern} for ${ip}`, () => daemon.stderr.slice(from).split('\n').some((l) => l.includes(`name ${ip}: ${NAME}: `) && pattern.test(l)))
  const nameStatus = async (ip: string) => {
    const status = (await daemon.request({ op: 'status' })) as { vms: { ip: string; names: Record<string, Record<string, unknown>> }[] }
    return status.vms.find((vm) => vm.ip === ip)?.names[NAME]
  }

  // a: allowed to the name only; b: everything but the name
  const pushed = await daemon.request({
    op: 'replace',
    entries: push({
      [VM_A]: { policy: 'drop', rules: [`action=accept dsthost=${NAME} proto=tcp dstports=80-80`, `action=accept dst4=${WWW}/32 proto=tcp dstports=443-443`] },
      [VM_B]: { policy: 'accept', rules: [`action=drop dsthost=${NAME} proto=tcp dstports=80-80`] },
    }),
  })
  t.equal(pushed['ok'], true, `the push is in (${JSON.stringify(pushed)})`)

  await t.test('a rotation: the new address is reached, the old one through its grace only', async (t) => {
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${CDN}:80`]: 'refused' }, { label: 'before' })
    const chainsBefore = Object.keys(await vmChains(lab, VM_A))
    const from = daemon.stderr.length
    answer(CDN)
    await said(from, VM_A, new RegExp(`now ${CDN} ${WWW} \\(was ${WWW}\\)`))
    const graced = await nameStatus(VM_A)
    t.same(graced?.['addresses'], [CDN, WWW], 'status: the new answer, and the old address in its grace')
    const graceEnd = Number((graced?.['graced'] as Record<string, number> | undefined)?.[WWW])
    t.ok(graceEnd > 0, `status says until when ${WWW} keeps matching (${graceEnd})`)
    await lab.expect(t, 'a', { [`tcp:${CDN}:80`]: 'allowed' }, { label: 'refreshed' })
    if (Date.now() / 1000 < graceEnd - 1) await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed' }, { label: 'in its grace' })
    else t.comment('the grace ended before the probe could run (a loaded machine): not asserted')

    await said(from, VM_A, new RegExp(`now ${CDN} \\(was ${CDN} ${WWW}\\)`))
    await lab.expect(t, 'a', { [`tcp:${CDN}:80`]: 'allowed', [`tcp:${WWW}:80`]: 'refused', [`tcp:${WWW}:443`]: 'allowed' }, { label: 'grace over' })
    await lab.expect(t, 'b', { [`tcp:${CDN}:80`]: 'refused', [`tcp:${WWW}:80`]: 'allowed' }, { label: 'the drop rule follows too' })
    t.same(Object.keys(await vmChains(lab, VM_A)), chainsBefore, 'no chain was rendered again: only the set changed')
    const set = (await lab.nft('list', 'set', 'ip', 'qubes', `${chainsBefore[0]}-n0`)).stdout
    t.match(set, new RegExp(`elements = \\{ ${CDN.replace(/\./g, '\\.')} \\}`), 'the set holds the new address only')
  })

  await t.test('DNS fails: the addresses stay through the grace, then the rule fails closed at its position', async (t) => {
    const from = daemon.stderr.length
    answer(undefined)
    await said(from, VM_A, /refresh failed/)
    const failing = await nameStatus(VM_A)
    t.ok(failing?.['failing'], `status says the refresh fails (${JSON.stringify(failing?.['failing'])})`)
    const graceEnd = Number((failing?.['failing'] as { since?: number } | undefined)?.since) + GRACE_S
    if (Date.now() / 1000 < graceEnd - 1) await lab.expect(t, 'a', { [`tcp:${CDN}:80`]: 'allowed' }, { label: 'the last good answer, in its grace' })
    else t.comment('the grace ended before the probe could run (a loaded machine): not asserted')
    await said(from, VM_A, /failed closed/)
    await said(from, VM_B, /failed closed/)
    // a: the accept rule matches nothing, the next rule still works; b: drop-all from the drop rule on
    await lab.expect(t, 'a', { [`tcp:${WWW}:443`]: 'allowed', [`tcp:${CDN}:80`]: 'refused' }, { label: 'a, failed' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'refused', [`tcp:${CDN}:443`]: 'refused' }, { label: 'b, failed' })
    const status = (await daemon.request({ op: 'status' })) as { lastError?: string }
    t.match(status.lastError, new RegExp(`${NAME}`), `the failure is reported: ${status.lastError}`)
  })

  await t.test('the name resolves again: its rules work again, with no dom0 action', async (t) => {
    const from = daemon.stderr.length
    answer(WWW)
    await said(from, VM_A, /resolves again/)
    await said(from, VM_B, /resolves again/)
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${CDN}:80`]: 'refused' }, { label: 'a, back' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'refused', [`tcp:${CDN}:80`]: 'allowed' }, { label: 'b, back' })
  })
}
