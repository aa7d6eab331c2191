// The daemon's large replace (over 1000 entries: streamed to a fresh nft through a FIFO, not
// through its session): it loads what it was given, and packets show it; a large push that does not
// parse changes nothing and leaves no nft or FIFO behind; a small update after it goes through
// the session.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { until } from '../helpers/wait.js'
import { VM_A, VM_B, WWW, fillerVms, makeLab, push, type Daemon, type Entries } from './harness.js'

const large = (aPort: number): Entries =>
  push({ [VM_A]: { policy: 'drop', rules: [`action=accept dst4=${WWW} proto=tcp dstports=${aPort}-${aPort}`] }, [VM_B]: { policy: 'drop', rules: [] }, ...fillerVms(30) })

const lab = await makeLab(t)
if (lab) {
  // the daemon's TMPDIR: what it keeps there (the session's directory, a FIFO's) can be seen
  const tmp = lab.daemonTmp
  const ours = () => readdirSync(tmp).filter((name) => name.startsWith('qubes-firewall-'))
  let daemon: Daemon
  /** What runs in the firewall namespace besides the daemon: its nft processes. */
  const nftProcesses = () => {
    const pids = execFileSync('ip', ['netns', 'pids', lab.ns.fw], { encoding: 'utf8' }).trim().split('\n').filter(Boolean)
    const commandLine = (pid: string) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
      } catch {
        return '' // ended meanwhile
      }
    }
    return pids.map(commandLine).filter((command) => /^nft /.test(command))
  }

  await t.test('a large replace is loaded and enforced', async (t) => {
    t.ok(Object.keys(large(80)).length >= 1000, 'the push is large')
    daemon = await lab.startDaemon()
    const answer = await daemon.request({ op: 'replace', entries: large(80) })
    t.equal(answer['ok'], true, JSON.stringify(answer['error']))
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'refused' })
  })

  await t.test('a large push that does not parse changes nothing and leaves no nft or FIFO behind', async (t) => {
    const rulesBefore = await lab.rulesetShape()
    const answer = await daemon.request({ op: 'replace', entries: { ...large(443), [`/qubes-firewall/${VM_B}/0000`]: 5 } })
    t.equal(answer['ok'], false)
    t.match(answer['error'], /is not a string/)
    t.equal(await lab.rulesetShape(), rulesBefore, 'the ruleset is unchanged')
    await until('only the session nft runs', () => nftProcesses().every((command) => command.startsWith('nft -i')))
    t.same(nftProcesses().filter((command) => command.includes(' -f ')), [], 'no nft reading a FIFO is left')
    t.ok(ours().length <= 1, `no FIFO directory left (the session keeps one directory): ${ours().join(' ')}`)
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' })
  })

  await t.test('the next large replace and a small update both go in', async (t) => {
    t.equal((await daemon.request({ op: 'replace', entries: large(443) }))['ok'], true)
    await lab.expect(t, 'a', { [`tcp:${WWW}:443`]: 'allowed', [`tcp:${WWW}:80`]: 'refused' })
    const update = push({ [VM_B]: { policy: 'drop', rules: [`action=accept dst4=${WWW} proto=tcp dstports=80-80`] } }, {})
    t.equal((await daemon.request({ op: 'update', entries: update }))['ok'], true)
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed' })
    await daemon.terminate()
    t.equal(daemon.child.exitCode, 0, 'the daemon stops')
  })
}
