// The daemon (`serve`) in the firewall namespace: its 0600 socket, the replace / update / remove /
// status protocol and its answers, malformed requests that change nothing, hooks run in order once
// the rules are in place, SIGTERM leaving the rules in force, and a restart restoring them.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { until } from '../helpers/wait.js'
import t from 'tap'
import { CDN, DNS, VM_A, VM_B, WWW, makeLab, push, vmChains, type Daemon } from './harness.js'

const lab = await makeLab(t, { dns: true })
if (lab) {
  // hooks: each appends its name and whether the rules were already in place
  const hookLog = join(lab.dir, 'hooks.log')
  const systemDir = join(lab.dir, 'system-hooks')
  const userDir = join(lab.rwDir, 'qubes-firewall.d')
  mkdirSync(systemDir, { recursive: true })
  mkdirSync(userDir, { recursive: true })
  const hook = (path: string, name: string, executable = true) => {
    writeFileSync(
      path,
      [
        '#!/bin/sh',
        'if nft list chain ip qubes qf-forward >/dev/null 2>&1; then forward=yes; else forward=no; fi',
        // a's chain: qf-vm-10-137-0-5, or with a generation suffix
        `if nft list chains ip | grep -Eq 'chain qf-vm-${VM_A.replaceAll('.', '-')}(-g[0-9a-z]+)? '; then vm=yes; else vm=no; fi`,
        `echo "${name} forward=$forward vm=$vm" >> ${hookLog}`,
        '',
      ].join('\n'),
    )
    chmodSync(path, executable ? 0o755 : 0o644)
  }
  hook(join(systemDir, '20-second'), 'system-20')
  hook(join(systemDir, '10-first'), 'system-10')
  hook(join(systemDir, '15-not-executable'), 'system-15', false)
  hook(join(userDir, '50-user'), 'user-d-50')
  hook(join(lab.rwDir, 'qubes-firewall-user-script'), 'user-script')
  // the daemon's TMPDIR: its nft session keeps a private directory there while it runs
  const tmp = lab.daemonTmp
  const ours = () => readdirSync(tmp).filter((name) => name.startsWith('qubes-firewall-'))
  const env = { QUBES_FIREWALL_SYSTEM_HOOKS: systemDir }
  const hookLines = () => (existsSync(hookLog) ? readFileSync(hookLog, 'utf8').trim().split('\n') : [])
  const ruleset = () => lab.rulesetShape()
  /** What is persisted: the snapshot and the journal of changes since. */
  const persisted = () => ['state.json', 'journal.jsonl'].map((f) => (existsSync(join(lab.stateDir, f)) ? readFileSync(join(lab.stateDir, f), 'utf8') : '')).join('\n--\n')

  const rulesA = ['action=accept dsthost=www.lab.example proto=tcp dstports=80-80', `action=accept dst4=${WWW} proto=tcp dstports=22-22`]
  const rulesB = [`action=accept dst4=${WWW} proto=tcp dstports=443-443`]
  let daemon: Daemon

  await t.test('start: hooks in order, after the rules are in place; every VM blocked; socket 0600', async (t) => {
    daemon = await lab.startDaemon({ env })
    t.same(hookLines(), ['system-10 forward=yes vm=no', 'system-20 forward=yes vm=no', 'user-d-50 forward=yes vm=no', 'user-script forward=yes vm=no'], 'system hooks sorted, then qubes-firewall.d, then the user script; none before the rules; non-executables skipped')
    const st = statSync(daemon.socket)
    t.ok(st.isSocket(), 'the socket is a Unix socket')
    t.equal((st.mode & 0o777).toString(8), '600', 'socket mode 0600')
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused' }, { label: 'before any push' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'refused' }, { label: 'before any push' })
    const status = await daemon.request({ op: 'status' })
    t.equal(status['ok'], true, 'status ok')
    t.same(status['vms'], [], 'status: no VM loaded')
  })

  await t.test('replace: applies every VM, resolves names, answers what it did', async (t) => {
    const r = await daemon.request({ op: 'replace', entries: push({ [VM_A]: { policy: 'drop', rules: rulesA }, [VM_B]: { policy: 'drop', rules: rulesB } }) })
    t.equal(r['ok'], true, 'ok')
    t.same([...((r['applied'] as string[]) ?? [])].sort(), [VM_A, VM_B], 'applied both VMs')
    t.same(r['failed'], [], 'no failures')
    t.same(r['resolved'], { 'www.lab.example': [WWW] }, 'resolved names with their addresses')
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:22`]: 'allowed', [`tcp:${WWW}:443`]: 'refused', [`tcp:${CDN}:80`]: 'refused' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'allowed', [`tcp:${WWW}:80`]: 'refused' })
  })

  await t.test('failures: an unresolved name and a VM that fails closed are reported per rule', async (t) => {
    const r = await daemon.request({
      op: 'replace',
      entries: push({
        [VM_A]: { policy: 'drop', rules: [...rulesA, 'action=accept dsthost=nope.lab.example'] },
        [VM_B]: { policy: 'drop', rules: [...rulesB, 'action=accept proto=tcp dstports=443-80'] },
      }),
    })
    t.equal(r['ok'], false, 'ok is false')
    const failed = (r['failed'] as Record<string, unknown>[]) ?? []
    t.equal(failed.length, 2, 'two failures')
    t.match(failed.find((f) => f['vm'] === VM_A), { vm: VM_A, rule: 2, name: 'nope.lab.example', error: /nope\.lab\.example/ }, 'a: rule 2, the name and why')
    t.match(failed.find((f) => f['vm'] === VM_B), { vm: VM_B, rule: 1, error: /443-80|range/ }, 'b: rule 1 and why')
    t.equal(typeof failed.find((f) => f['vm'] === VM_B)?.['rule'], 'number', 'rule is a JSON integer')
    t.same(r['applied'], [VM_A], 'a applied, b not')
    t.same(r['resolved'], { 'www.lab.example': [WWW] }, 'the names that resolved')
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${CDN}:80`]: 'refused' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'refused' }, { label: 'b failed closed' })
    const status = await daemon.request({ op: 'status' })
    t.type(status['lastError'], 'string', 'status shows the last error')
    const back = await daemon.request({ op: 'replace', entries: push({ [VM_A]: { policy: 'drop', rules: rulesA }, [VM_B]: { policy: 'drop', rules: rulesB } }) })
    t.equal(back['ok'], true, 'a good replace is ok again')
  })

  await t.test('update: a one-VM update touches only that VM', async (t) => {
    const before = await vmChains(lab, VM_B)
    t.equal(Object.keys(before).length, 1, `b has one chain (${Object.keys(before).join(', ')})`)
    const r = await daemon.request({ op: 'update', entries: push({ [VM_A]: { policy: 'drop', rules: [`action=accept dst4=${CDN} proto=tcp`] } }, {}) })
    t.equal(r['ok'], true, 'ok')
    t.same(r['applied'], [VM_A], 'applied a only')
    t.same(await vmChains(lab, VM_B), before, "b's chain is unchanged (same name, rules, handles and counters)")
    await lab.expect(t, 'a', { [`tcp:${CDN}:80`]: 'allowed', [`tcp:${WWW}:80`]: 'refused' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'allowed', [`tcp:${WWW}:80`]: 'refused' })
  })

  await t.test('remove: the VM is forgotten and blocked', async (t) => {
    const r = await daemon.request({ op: 'remove', ips: [VM_B] })
    t.equal(r['ok'], true, 'ok')
    t.same(r['removed'], [VM_B], 'removed b')
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'refused' })
    await lab.expect(t, 'a', { [`tcp:${CDN}:80`]: 'allowed' })
    t.same(Object.keys(await vmChains(lab, VM_B)), [], "b's chain is gone")
  })

  await t.test('status: VMs, rule counts, resolved names, expiries', async (t) => {
    const expire = Math.floor(Date.now() / 1000) + 3600
    // an update, so that b stays gone through its remove alone (persisted, as the restart below checks)
    const r = await daemon.request({ op: 'update', entries: push({ [VM_A]: { policy: 'drop', rules: [...rulesA, `action=accept dst4=${CDN} proto=udp expire=${expire}`] } }, {}) })
    t.equal(r['ok'], true, 'update ok')
    const status = await daemon.request({ op: 'status' })
    t.match(status, {
      ok: true,
      vms: [{ ip: VM_A, ok: true, policy: 'drop', rules: 3, expiries: [{ rule: 2, expire }], resolved: { 'www.lab.example': [WWW] } }],
      lastError: null,
    })
    t.equal((status['vms'] as unknown[]).length, 1, 'only a is loaded')
  })

  await t.test('malformed requests: ok false, nothing changes, the connection stays usable', async (t) => {
    // the clean-up of the last update runs once the daemon is idle: the state to compare is after it
    await until('the clean-up after the last update', async () => !/map qf-vms-update \{[^}]*elements/.test(await ruleset()))
    const rulesBefore = await ruleset()
    const stateBefore = persisted()
    const big = 'a'.repeat(5 * 1024 * 1024)
    const bad: [what: string, line: string, error: RegExp][] = [
      ['not JSON', 'this is not json', /JSON/],
      ['a JSON array', '[1,2,3]', /object/],
      ['a JSON string', '"replace"', /object/],
      ['an unknown op', JSON.stringify({ op: 'frobnicate' }), /unknown op/],
      ['no op', JSON.stringify({ entries: {} }), /op/],
      ['entries with a non-string value', JSON.stringify({ op: 'replace', entries: { [`/qubes-firewall/${VM_A}`]: '', [`/qubes-firewall/${VM_A}/policy`]: 1 } }), /string/],
      ['entries not an object', JSON.stringify({ op: 'update', entries: 'x' }), /object/],
      ['remove without a list of IPs', JSON.stringify({ op: 'remove', ips: '10.137.0.5' }), /ips/],
      ['remove of something that is no IP', JSON.stringify({ op: 'remove', ips: ['10.137.0.5; drop'] }), /ips/],
      ['a 5 MB line of JSON', JSON.stringify({ op: 'update', entries: { [`/qubes-firewall/${VM_A}`]: '', [`/qubes-firewall/${VM_A}/0000`]: big } }), /long|limit|characters/],
      ['a 5 MB line that is not JSON', big, /JSON/],
      ['a 10 MB line of [', '['.repeat(10 << 20), /^request nested deeper than 2 levels$/],
      ['a line of spaces', '   ', /^empty request$/],
    ]
    for (const [what, line, error] of bad) {
      const r = await daemon.request(line)
      t.equal(r['ok'], false, `${what}: ok false`)
      t.match(r['error'], error, `${what}: says why`)
      t.ok(daemon.connected, `${what}: the connection is still open`)
    }
    // several requests at once on the connection: one answer each, in order
    const [first, second, third] = await Promise.all([daemon.request({ op: 'status' }), daemon.request('{'), daemon.request({ op: 'remove', ips: ['10.137.0.77'] })])
    t.match(first, { ok: true, vms: [{ ip: VM_A }] }, 'pipelined: status first')
    t.match(second, { ok: false }, 'pipelined: the bad line second')
    t.match(third, { ok: true, removed: ['10.137.0.77'] }, 'pipelined: the remove third')
    t.equal(await ruleset(), rulesBefore, 'the ruleset is unchanged')
    t.equal(persisted(), stateBefore, 'the persisted state is unchanged')
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' })
  })

  await t.test('SIGTERM: exits, the rules stay in force', async (t) => {
    const rulesBefore = await ruleset()
    t.equal(ours().length, 1, "the nft session's private directory, while the daemon runs")
    await daemon.terminate()
    t.equal(daemon.child.exitCode, 0, 'exit code 0')
    t.same(ours(), [], 'it goes with the daemon')
    t.equal(await ruleset(), rulesBefore, 'the ruleset is unchanged')
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused', [`tcp:${CDN}:80`]: 'refused' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'refused' })
  })

  await t.test('restart: the persisted rules are restored before the hooks and before any push', async (t) => {
    // as after a reboot: no rules in the kernel; and no nameserver, so names come from the state
    await lab.nft('flush', 'ruleset')
    await lab.exec(lab.ns.up, 'ip', ['addr', 'del', `${DNS}/24`, 'dev', 'eth0'])
    writeFileSync(hookLog, '')
    daemon = await lab.startDaemon({ env })
    t.same(hookLines(), ['system-10 forward=yes vm=yes', 'system-20 forward=yes vm=yes', 'user-d-50 forward=yes vm=yes', 'user-script forward=yes vm=yes'], "every hook ran with a's rules already in place")
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:22`]: 'allowed', [`tcp:${WWW}:443`]: 'refused', [`tcp:${CDN}:80`]: 'refused' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'refused' }, { label: 'b was removed' })
    const status = await daemon.request({ op: 'status' })
    t.match(status, { ok: true, vms: [{ ip: VM_A, rules: 3, resolved: { 'www.lab.example': [WWW] } }] }, 'status after restart')
    t.equal((status['vms'] as unknown[]).length, 1, 'only a is loaded: the remove of b was persisted')
  })

  await t.test('restart: a VM that an update failed closed stays blocked', async (t) => {
    const r = await daemon.request({ op: 'update', entries: push({ [VM_A]: { policy: 'accept', rules: ['action=accept proto=tcp dstports=80-70'] } }, {}) })
    t.equal(r['ok'], false, 'the update fails')
    t.match(r['failed'], [{ vm: VM_A, rule: 0 }], 'a failed at rule 0')
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused', [`tcp:${CDN}:80`]: 'refused' }, { label: 'failed closed' })
    await daemon.terminate()
    daemon = await lab.startDaemon({ env })
    // the last rules in force blocked a: a restart must not bring back the rules dom0 replaced
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused', [`tcp:${CDN}:80`]: 'refused' }, { label: 'after restart' })
  })
}
