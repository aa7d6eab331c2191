// firewall.xml on disk: the default when there is none, atomic replacement, a failed edit leaving
// the file byte-identical, concurrent edits losing nothing, stale locks, and qvm-firewall's edits.
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import t from 'tap'
import { addRule, deleteMatchingRule, deleteRuleNo, resetRules } from '../dom0-tools/firewall/edit.js'
import { formatRawRule } from '../dom0-tools/rule/format-raw.js'
import type { EpochSeconds, Rule } from '../common/rule/model.js'
import { parseApiRule } from '../dom0-tools/rule/parse.js'
import { atomicWriteFile } from '../common/atomic-write.js'
import { firewallXmlPath, loadRules, modifyRules, vmDir } from '../dom0-tools/store/firewall-store.js'
import { withLock } from '../dom0-tools/store/lock.js'
import { exactly } from './helpers/exactly.js'

const now = 1_700_000_000 as EpochSeconds
const clock = () => now
const rule = (line: string): Rule => parseApiRule(line, { now })
const raw = (rules: readonly Rule[]) => rules.map(formatRawRule)
const projectDir = fileURLToPath(new URL('..', import.meta.url))
const fixture = (path: string) => fileURLToPath(new URL(`fixtures/${path}`, import.meta.url))

/** A pid that is surely not running: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', ''])
  if (child.pid === undefined) throw new Error('could not start a child')
  return child.pid
}

/** A qubes dir holding VM `work` with the given firewall.xml text. */
function vmWith(t: { testdir(): string }, xml?: string): string {
  const qubesDir = t.testdir()
  mkdirSync(vmDir(qubesDir, 'work'), { recursive: true })
  if (xml !== undefined) writeFileSync(firewallXmlPath(qubesDir, 'work'), xml)
  return qubesDir
}

const THREE = `<?xml version='1.0' encoding='UTF-8'?>
<firewall version="2">
  <rules>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="dsthost">qubes-os.org</property>
        <property name="proto">tcp</property>
        <property name="dstports">443</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="specialtarget">dns</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">drop</property>
      </properties>
    </rule>
  </rules>
</firewall>
`
const THREE_RAW = ['action=accept proto=tcp dsthost=qubes-os.org dstports=443-443', 'action=accept specialtarget=dns', 'action=drop']

t.test('loadRules', async (t) => {
  t.same(raw(loadRules(t.testdir(), 'work', now)), ['action=accept'], 'no firewall.xml: one rule, accept')
  t.same(raw(loadRules(vmWith(t, THREE), 'work', now)), THREE_RAW)
  const v1 = vmWith(t)
  copyFileSync(fixture('firewall-xml/v1-deny.xml'), firewallXmlPath(v1, 'work'))
  t.same(raw(loadRules(v1, 'work', now)), [
    'action=accept specialtarget=dns',
    'action=accept proto=icmp',
    'action=accept proto=tcp dst4=192.168.0.0/24 dstports=443-443',
    'action=accept proto=tcp dsthost=qubes-os.org dstports=443-443',
  ], 'a version 1 file is read')
  const bad = vmWith(t, '<firewall version="2"><rules><rule><properties><property name="action">maybe</property></properties></rule></rules></firewall>')
  t.throws(() => loadRules(bad, 'work', now), {
    name: 'StoreError',
    file: firewallXmlPath(bad, 'work'),
    message: exactly(`${firewallXmlPath(bad, 'work')}: rule 0: invalid action 'maybe' (expected accept or drop)`),
  })
})

t.test('modifyRules writes the new list and leaves nothing else behind', async (t) => {
  const qubesDir = t.testdir()
  const saved = await modifyRules(qubesDir, 'work', clock, (rules) => addRule(rules, rule('action=drop')))
  t.same(raw(saved), ['action=accept', 'action=drop'], 'returns the saved rules')
  t.equal(
    readFileSync(firewallXmlPath(qubesDir, 'work'), 'utf8'),
    `<?xml version='1.0' encoding='UTF-8'?>
<firewall version="2">
  <rules>
    <rule>
      <properties>
        <property name="action">accept</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">drop</property>
      </properties>
    </rule>
  </rules>
</firewall>
`,
  )
  t.same(readdirSync(vmDir(qubesDir, 'work')), ['firewall.xml'], 'no temp file, no lock')
  await modifyRules(qubesDir, 'work', clock, () => resetRules())
  t.same(raw(loadRules(qubesDir, 'work', now)), ['action=accept'], 'reset restores the default')
})

t.test('modifyRules drops expired rules when it saves', async (t) => {
  const qubesDir = vmWith(t)
  await modifyRules(qubesDir, 'work', clock, () => [rule('action=accept dsthost=10.0.0.1 expire=1700000010'), rule('action=drop')])
  const later = (now + 10) as EpochSeconds
  await modifyRules(qubesDir, 'work', () => later, (rules) => addRule(rules, rule('action=accept proto=icmp')))
  t.same(raw(loadRules(qubesDir, 'work', later)), ['action=drop', 'action=accept proto=icmp'])
})

t.test('a change that throws leaves firewall.xml byte-identical', async (t) => {
  const qubesDir = vmWith(t, THREE)
  const file = firewallXmlPath(qubesDir, 'work')
  const before = readFileSync(file)
  await t.rejects(
    modifyRules(qubesDir, 'work', clock, (rules) => deleteRuleNo(rules, 7)),
    { name: 'UsageError', message: exactly('rule number 7 out of range (the VM has rules 0-2)') },
  )
  await t.rejects(
    modifyRules(qubesDir, 'work', clock, () => {
      throw new Error('boom')
    }),
    { message: 'boom' },
  )
  t.ok(readFileSync(file).equals(before), 'byte-identical')
  t.same(readdirSync(vmDir(qubesDir, 'work')), ['firewall.xml'], 'no temp file, no lock left')

  const fresh = t.testdir()
  await t.rejects(modifyRules(fresh, 'work', clock, (rules) => deleteRuleNo(rules, 0)), { name: 'UsageError' })
  t.notOk(existsSync(firewallXmlPath(fresh, 'work')), 'refused on a VM without firewall.xml: none is created')
  t.same(readdirSync(vmDir(fresh, 'work')), [], 'and no lock or temp file either')
})

t.test('a bad firewall.xml is not overwritten', async (t) => {
  const broken = '<firewall version="2"><rules><rule>'
  const qubesDir = vmWith(t, broken)
  await t.rejects(modifyRules(qubesDir, 'work', clock, (rules) => addRule(rules, rule('action=drop'))), { name: 'StoreError' })
  t.equal(readFileSync(firewallXmlPath(qubesDir, 'work'), 'utf8'), broken)
  t.same(readdirSync(vmDir(qubesDir, 'work')), ['firewall.xml'])
})

t.test('atomicWriteFile', async (t) => {
  const dir = t.testdir({ 'old.txt': 'old\n', 'sub': { 'x': 'y' } })
  atomicWriteFile(join(dir, 'old.txt'), 'new\n')
  t.equal(readFileSync(join(dir, 'old.txt'), 'utf8'), 'new\n')
  atomicWriteFile(join(dir, 'buf.bin'), Buffer.from([0, 1, 2]))
  t.same([...readFileSync(join(dir, 'buf.bin'))], [0, 1, 2])
  // rename onto a non-empty directory fails: the temp file must go too
  t.throws(() => atomicWriteFile(join(dir, 'sub'), 'z'), { code: /^(EISDIR|ENOTEMPTY|EEXIST)$/ })
  t.throws(() => atomicWriteFile(join(dir, 'missing', 'f'), 'z'), { code: 'ENOENT' })
  t.same(readdirSync(dir).sort(), ['buf.bin', 'old.txt', 'sub'], 'no temp files behind')
  // an edit keeps the file's mode (and, as root, its owner): it never widens or re-owns it
  chmodSync(join(dir, 'old.txt'), 0o600)
  if (process.getuid?.() === 0) chownSync(join(dir, 'old.txt'), 65534, 65534)
  atomicWriteFile(join(dir, 'old.txt'), 'newer\n')
  const after = statSync(join(dir, 'old.txt'))
  t.equal(after.mode & 0o777, 0o600, 'mode kept')
  if (process.getuid?.() === 0) t.same([after.uid, after.gid], [65534, 65534], 'owner kept')
  t.equal(statSync(join(dir, 'buf.bin')).mode & 0o777, 0o664, 'a new file: 0664')
})

t.test('20 concurrent modifyRules, one process each, lose no rule', async (t) => {
  const qubesDir = t.testdir()
  const script = fixture('bin/append-rule.ts')
  const hosts = Array.from({ length: 20 }, (_, i) => `10.0.0.${i + 1}`)
  const children = hosts.map((host) =>
    execa(process.execPath, ['--import', 'tsx', script, qubesDir, 'work', `action=accept dsthost=${host}`], {
      cwd: projectDir,
      stdin: 'pipe',
    }),
  )
  // start them all at once, once every one has loaded
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          child.stdout?.once('data', () => resolve())
          child.catch(reject)
        }),
    ),
  )
  for (const child of children) child.stdin?.end('go\n')
  const results = await Promise.all(children)
  t.same(results.map((r) => r.exitCode), hosts.map(() => 0), 'every writer succeeded')
  const saved = raw(loadRules(qubesDir, 'work', now))
  t.equal(saved[0], 'action=accept', 'the default rule first')
  t.same(saved.slice(1).sort(), hosts.map((h) => `action=accept dst4=${h}/32`).sort(), 'all 20 rules, each once')
  t.same(readdirSync(vmDir(qubesDir, 'work')), ['firewall.xml'], 'no temp file, no lock left')
})

t.test('locks', async (t) => {
  // a live owner would make modifyRules wait 30 s and throw: getting through at all is the takeover
  const staleOwners: [what: string, owner: () => string][] = [
    ['a lock left by a dead process is taken over', () => String(deadPid())],
    // this process lives, but it did not start at tick 1: the recorded owner is gone
    ['a lock whose pid now belongs to another process (reused after a crash) is taken over', () => `${process.pid} 1`],
  ]
  for (const [what, owner] of staleOwners) {
    t.test(what, async (t) => {
      const qubesDir = vmWith(t, THREE)
      const lock = join(vmDir(qubesDir, 'work'), '.firewall.xml.lock')
      mkdirSync(lock)
      writeFileSync(join(lock, 'owner'), owner())
      await modifyRules(qubesDir, 'work', clock, (rules) => addRule(rules, rule('action=accept proto=icmp'), 0))
      t.same(raw(loadRules(qubesDir, 'work', now)), ['action=accept proto=icmp', ...THREE_RAW])
      t.notOk(existsSync(lock), 'and released')
    })
  }

  t.test('a lock whose maker died before writing its pid is taken over once old', async (t) => {
    const qubesDir = vmWith(t, THREE)
    const lock = join(vmDir(qubesDir, 'work'), '.firewall.xml.lock')
    mkdirSync(lock)
    const old = new Date(Date.now() - 60_000)
    utimesSync(lock, old, old)
    await modifyRules(qubesDir, 'work', clock, (rules) => deleteRuleNo(rules, 1))
    t.same(raw(loadRules(qubesDir, 'work', now)), [THREE_RAW[0], THREE_RAW[2]])
    t.notOk(existsSync(lock))
  })

  t.test('a lock being made (its record written aside, not renamed in yet) is waited for, not taken over', async (t) => {
    const lock = join(t.testdir(), 'lock')
    mkdirSync(lock)
    writeFileSync(join(lock, 'owner.12345'), '')
    let ran = false
    await t.rejects(withLock(lock, () => (ran = true), { timeoutMs: 200 }), { message: exactly(`timed out waiting for lock ${lock}`) })
    t.notOk(ran)
    t.ok(existsSync(join(lock, 'owner.12345')), 'the lock is left to its maker')
  })

  t.test('a live owner is waited for', async (t) => {
    const lock = join(t.testdir(), 'lock')
    mkdirSync(lock)
    writeFileSync(join(lock, 'owner'), String(process.pid))
    let waits = 0
    let ran = false
    let sawWaitsTwice: () => void = () => {}
    const waitedTwice = new Promise<void>((resolve) => (sawWaitsTwice = resolve))
    const pending = withLock(lock, () => (ran = true), {
      onWait: () => {
        if (++waits === 2) sawWaitsTwice()
      },
    })
    await waitedTwice
    t.notOk(ran, 'found the lock held twice, and did not take it')
    rmSync(lock, { recursive: true })
    await pending
    t.ok(ran, 'ran once the owner let go')
    t.notOk(existsSync(lock), 'and released it')
  })

  t.test('waiting for a live owner times out', async (t) => {
    const lock = join(t.testdir(), 'lock')
    mkdirSync(lock)
    writeFileSync(join(lock, 'owner'), String(process.pid))
    let ran = false
    await t.rejects(
      withLock(lock, () => (ran = true), { timeoutMs: 100 }),
      { message: exactly(`timed out waiting for lock ${lock}`) },
    )
    t.notOk(ran)
    t.ok(existsSync(lock), "someone else's lock is left alone")
  })

  t.test('the lock is released when the work throws', async (t) => {
    const lock = join(t.testdir(), 'lock')
    await t.rejects(withLock(lock, () => Promise.reject(new Error('no'))), { message: 'no' })
    t.notOk(existsSync(lock))
    t.equal(await withLock(lock, () => 42), 42, 'and can be taken again')
  })
})

t.test("qvm-firewall's edits", async (t) => {
  const three = THREE_RAW.map(rule)
  const icmp = rule('action=accept proto=icmp')

  t.test('add', async (t) => {
    t.same(raw(addRule(three, icmp)), [...THREE_RAW, 'action=accept proto=icmp'], 'appends')
    t.same(raw(addRule(three, icmp, 0)), ['action=accept proto=icmp', ...THREE_RAW], '--before 0')
    t.same(raw(addRule(three, icmp, 2)), [THREE_RAW[0], THREE_RAW[1], 'action=accept proto=icmp', THREE_RAW[2]], '--before 2')
    t.same(raw(addRule(three, icmp, 3)), [...THREE_RAW, 'action=accept proto=icmp'], '--before the end')
    t.same(raw(three), THREE_RAW, 'the input list is not changed')
    const cases: [before: number, want: string][] = [
      [4, 'rule number 4 out of range (the VM has rules 0-2)'],
      [-1, 'rule number -1 out of range (the VM has rules 0-2)'],
      [1.5, 'rule number 1.5 out of range (the VM has rules 0-2)'],
      [Number.NaN, 'rule number NaN out of range (the VM has rules 0-2)'],
    ]
    for (const [before, want] of cases) {
      t.throws(() => addRule(three, icmp, before), { name: 'UsageError', message: exactly(want) }, `--before ${before}`)
    }
  })

  t.test('del by number', async (t) => {
    t.same(raw(deleteRuleNo(three, 0)), THREE_RAW.slice(1))
    t.same(raw(deleteRuleNo(three, 2)), THREE_RAW.slice(0, 2))
    t.same(raw(three), THREE_RAW, 'the input list is not changed')
    const cases: [ruleNo: number, want: string][] = [
      [3, 'rule number 3 out of range (the VM has rules 0-2)'],
      [-1, 'rule number -1 out of range (the VM has rules 0-2)'],
      [0.5, 'rule number 0.5 out of range (the VM has rules 0-2)'],
    ]
    for (const [ruleNo, want] of cases) {
      t.throws(() => deleteRuleNo(three, ruleNo), { name: 'UsageError', message: exactly(want) }, `--rule-no ${ruleNo}`)
    }
  })

  t.test('del by rule', async (t) => {
    t.same(raw(deleteMatchingRule(three, rule('action=accept specialtarget=dns'))), [THREE_RAW[0], THREE_RAW[2]])
    // the same API form matches, whatever the spelling it was given in
    t.same(raw(deleteMatchingRule(three, rule('dstports=443-443 proto=tcp dsthost=qubes-os.org action=accept'))), THREE_RAW.slice(1))
    const twice = [rule('action=drop'), rule('action=accept'), rule('action=drop')]
    t.same(raw(deleteMatchingRule(twice, rule('action=drop'))), ['action=accept', 'action=drop'], 'the first match only')
    t.throws(() => deleteMatchingRule(three, icmp), { name: 'UsageError', message: exactly('rule not found: action=accept proto=icmp') })
    t.throws(
      () => deleteMatchingRule([rule('action=drop comment=x')], rule('action=drop')),
      { name: 'UsageError', message: exactly('rule not found: action=drop') },
      'the comment is part of the rule',
    )
  })

  t.test('deleting the last rule is refused', async (t) => {
    const last = "cannot remove the last rule: add a 'drop' rule first, then delete the rest"
    const one = resetRules()
    t.same(raw(one), ['action=accept'])
    t.throws(() => deleteRuleNo(one, 0), { name: 'UsageError', message: exactly(last) })
    t.throws(() => deleteMatchingRule(one, rule('action=accept')), { name: 'UsageError', message: exactly(last) })
    t.throws(() => deleteRuleNo(one, 1), { name: 'UsageError', message: exactly('rule number 1 out of range (the VM has rules 0-0)') })
    t.same(raw(deleteRuleNo(addRule(one, rule('action=drop')), 0)), ['action=drop'], 'add drop first, then delete the rest')
  })

  t.test('through the store', async (t) => {
    const qubesDir = vmWith(t, THREE)
    await modifyRules(qubesDir, 'work', clock, (rules) => addRule(rules, icmp, 1))
    await modifyRules(qubesDir, 'work', clock, (rules) => deleteMatchingRule(rules, rule('action=drop')))
    await modifyRules(qubesDir, 'work', clock, (rules) => deleteRuleNo(rules, 0))
    t.same(raw(loadRules(qubesDir, 'work', now)), ['action=accept proto=icmp', 'action=accept specialtarget=dns'])
    const fresh = t.testdir()
    await t.rejects(modifyRules(fresh, 'work', clock, (rules) => deleteMatchingRule(rules, rule('action=accept'))), {
      name: 'UsageError',
      message: exactly("cannot remove the last rule: add a 'drop' rule first, then delete the rest"),
    })
    t.notOk(existsSync(firewallXmlPath(fresh, 'work')), 'the default VM keeps no file')
  })
})
