// A rule with expire= allows until its time, then stops matching within about a second, with no
// new push: after a one-shot apply (the kernel's own clock) and under the daemon alike.
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { EVENT_BOUND_MS } from '../helpers/wait.js'
import { VM_A, WWW, makeLab, push, type Entries, type Lab } from './harness.js'

const lab = await makeLab(t)
if (lab) {
  /** The push: port 80 until `expire`, port 443 for good. */
  const expiring = (expire: number): Entries =>
    push({
      [VM_A]: {
        policy: 'drop',
        rules: [`action=accept dst4=${WWW} proto=tcp dstports=80-80 expire=${expire}`, `action=accept dst4=${WWW} proto=tcp dstports=443-443`],
      },
    })

  /** Allowed before `expire`; then probes every 100 ms until refused, and asserts no connect started ~1 s after it was allowed. */
  const watchExpiry = async (t: Test, lab: Lab, expire: number) => {
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'allowed' }, { label: 'before expiry' })
    // from just before expiry: the allowed -> refused transition is seen
    await sleep(Math.max(0, expire * 1000 - 300 - Date.now()))
    // probe until refused; what counts is when each probe's connect started, not when it ended
    const seen: string[] = []
    let lastAllowed = -Infinity
    let refused = false
    // the kernel compares its own clock: a connect allowed after expiry is a bug on any machine;
    // how soon a loaded machine gets to probe again is not, so the wait itself is generous
    while (!refused && Date.now() < expire * 1000 + EVENT_BOUND_MS) {
      const got = await lab.probe('a', [`tcp:${WWW}:80`], { timeoutMs: 500 })
      const { result, at } = got[`tcp:${WWW}:80`] ?? { result: 'missing', at: NaN }
      seen.push(`${at - expire * 1000}ms:${result}`)
      if (result === 'allowed') lastAllowed = at - expire * 1000
      refused = result === 'refused'
      if (!refused) await sleep(100)
    }
    t.ok(refused, 'port 80 is refused after expiry', { seen })
    t.ok(lastAllowed < 1000, `no connect allowed later than ~1 s after expiry (last allowed ${Number.isFinite(lastAllowed) ? `at ${lastAllowed} ms from expiry` : 'before the first probe'})`, { seen })
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused', [`tcp:${WWW}:443`]: 'allowed' }, { label: 'after expiry' })
  }

  /**
   * Loads a push expiring about 2 s after it is in force: on a slow machine (the apply took most of
   * the margin) it tries again with a wider one. Returns the expiry.
   */
  const loadExpiring = async (load: (entries: Entries) => Promise<unknown>): Promise<number> => {
    for (let margin = 3; ; margin *= 2) {
      const expire = Math.floor(Date.now() / 1000) + margin
      await load(expiring(expire))
      if (Date.now() / 1000 < expire - 1 || margin >= 24) return expire
    }
  }

  await t.test('after a one-shot apply: the kernel stops matching at expiry', async (t) => {
    const expire = await loadExpiring((entries) => lab.apply(entries))
    await watchExpiry(t, lab, expire)
  })

  await t.test('under the daemon: the rule expires with no push', async (t) => {
    const daemon = await lab.startDaemon()
    t.teardown(() => daemon.terminate().catch(() => undefined))
    const expire = await loadExpiring(async (entries) => {
      const response = await daemon.request({ op: 'replace', entries })
      t.equal(response['ok'], true, 'replace ok')
    })
    await watchExpiry(t, lab, expire)
    const status = await daemon.request({ op: 'status' })
    t.equal(status['ok'], true, 'status ok after expiry')
  })
}
