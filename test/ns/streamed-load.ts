// A full load streams into nft while it is rendered (netvm-agent/nft/stream.ts). Cut short at any
// line, what nft read leaves every VM on its old rules, on its new ones, or rejected: never
// unfiltered. An error of ours or of nft's loads nothing; the FIFO and its directory go whatever
// happens.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Agent } from '../../netvm-agent/agent.js'
import { realEffects } from '../../netvm-agent/effects.js'
import { NftApplyError } from '../../netvm-agent/errors.js'
import { listNftWith } from '../../netvm-agent/nft/run.js'
import { SESSION_MAX_BYTES } from '../../netvm-agent/nft/session.js'
import { runNftStreamed, withNftReading } from '../../netvm-agent/nft/stream.js'
import { PIPE_BUF, transactionText, type StreamedTransaction } from '../../netvm-agent/nft/transaction.js'
import { parsePush } from '../../netvm-agent/push/parse.js'
import { CDN, VM_A, VM_B, WWW, fillerVms, makeLab, push, type Entries, type Lab } from './harness.js'

// a stays closed from one to the other: whatever a cut leaves, it must refuse a; b opens
const CLOSED = push({ [VM_A]: { policy: 'drop', rules: [] }, [VM_B]: { policy: 'drop', rules: [] }, ...fillerVms(20) })
const OPEN = push({ [VM_A]: { policy: 'drop', rules: [] }, [VM_B]: { policy: 'accept', rules: [] }, ...fillerVms(20) })

// this test's own TMPDIR: other tests' daemons keep their nft session's directory in theirs
const tmp = mkdtempSync(join(tmpdir(), 'qf-streamed-'))
process.env['TMPDIR'] = tmp
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
const leftovers = () => readdirSync(tmp).filter((name) => name.startsWith('qubes-firewall-'))

/** The transaction an agent would stream for `entries` over what the firewall namespace holds now. */
async function streamedFor(lab: Lab, entries: Entries): Promise<StreamedTransaction> {
  let captured: StreamedTransaction | undefined
  const agent = new Agent({
    ...realEffects(lab.resolvConf),
    runNft: async (transaction) => {
      if (typeof transaction === 'string') throw new Error('a full load should be streamed')
      captured = { parts: [transactionText({ parts: transaction.parts, last: '' })], last: transaction.last }
    },
    listNft: listNftWith(['ip', 'netns', 'exec', lab.ns.fw, 'nft']),
  })
  await agent.replace(parsePush(entries))
  if (captured === undefined) throw new Error('nothing was loaded')
  return captured
}

/** nft -f of `text` in the firewall namespace, as nft takes a stream cut there: what it read is the transaction. */
async function loadCut(lab: Lab, text: string): Promise<number> {
  const file = join(lab.dir, 'cut.nft')
  writeFileSync(file, text)
  return (await lab.nft('-f', file)).exitCode
}

const lab = await makeLab(t)
if (lab) {
  const nft: [string, ...string[]] = ['ip', 'netns', 'exec', lab.ns.fw, 'nft']
  // a TMPDIR of this test's own (the agents it starts inherit it): other tests' transaction files are not in it
  const ownTmp = join(lab.dir, 'tmp')
  mkdirSync(ownTmp)
  process.env['TMPDIR'] = ownTmp

  await t.test('apply streams a full load: what it loads is enforced', async (t) => {
    const rendered = await lab.agent('render', OPEN)
    t.ok(rendered.stdout.length > SESSION_MAX_BYTES, `the transaction (${rendered.stdout.length} bytes) is larger than the daemon's session takes`)
    const r = await lab.apply(OPEN)
    t.match(r.stdout, /applied rules of 42 VM\(s\)/)
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${CDN}:443`]: 'allowed' }, { label: 'open (the positive control)' })
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused', [`tcp:${CDN}:443`]: 'refused' }, { label: 'closed' })
    await lab.apply(CLOSED)
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'refused' }, { label: 'closed' })
  })

  await t.test('the daemon streams a large replace too (a small one goes through its nft session)', async (t) => {
    const daemon = await lab.startDaemon()
    t.match(await daemon.request({ op: 'replace', entries: OPEN }), { ok: true, applied: { length: 42 } })
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed' }, { label: 'open' })
    t.match(await daemon.request({ op: 'replace', entries: CLOSED }), { ok: true })
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'refused' }, { label: 'closed' })
    await daemon.terminate()
  })

  await t.test('cut short after any part, a VM closed before and after stays closed', async (t) => {
    await lab.apply(CLOSED)
    // the same closed ruleset before each cut (its chains' names too), so one transaction serves every cut
    const closed = (await lab.nft('list', 'ruleset')).stdout
    const restore = async () => t.equal(await loadCut(lab, `flush ruleset\n${closed}`), 0, 'the closed ruleset, restored')
    const streamed = await streamedFor(lab, OPEN)
    const lines = transactionText(streamed).split('\n')
    const first = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line))
    const cuts: [what: string, lineCount: number][] = [
      ['the created objects only', first(/^add chain ip qubes qf-vm-/)],
      ['half the VM chains', first(/^add chain ip qubes qf-vm-10-137-1-22-/)],
      ['every VM chain, no map yet', first(/^flush map ip qubes qf-vms-update$/)],
      ['the maps emptied, not refilled', first(/^add element ip qubes qf-vms /)],
      ['all but the last part', lines.length - streamed.last.split('\n').length],
    ]
    t.ok(cuts.every(([, n]) => n > 0), 'every cut is inside the transaction')
    for (const [what, lineCount] of cuts) {
      await restore()
      t.equal(await loadCut(lab, `${lines.slice(0, lineCount).join('\n')}\n`), 0, `${what}: nft takes what it read`)
      await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused' }, { label: `${what}: a stays closed` })
    }
    await restore()
    t.equal(await loadCut(lab, lines.join('\n')), 0, 'the whole transaction loads')
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed' }, { label: 'and opens b' })
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'refused' }, { label: 'not a' })
  })

  await t.test('an error while rendering: nft is killed before it reads the end, nothing is loaded', async (t) => {
    await lab.apply(CLOSED)
    const shape = await lab.rulesetShape()
    const whole = transactionText(await streamedFor(lab, OPEN))
    const half = whole.slice(0, whole.indexOf('add chain ip qubes qf-vm-10-137-1-22-'))
    function* parts(): Generator<string> {
      yield half
      throw new Error('render failed half-way')
    }
    await t.rejects(runNftStreamed(nft, { parts: parts(), last: '' }), /render failed half-way/)
    t.equal(await lab.rulesetShape(), shape, 'the ruleset is as it was')
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'refused' }, { label: 'b stays closed' })
  })

  await t.test('nft refuses a line: nothing is loaded, and the error quotes the line', async (t) => {
    const shape = await lab.rulesetShape()
    const whole = transactionText(await streamedFor(lab, OPEN))
    const cut = whole.indexOf('add chain ip qubes qf-vm-10-137-1-22-')
    const bad = 'add rule ip qubes qf-no-such-chain counter accept\n'
    const err = await runNftStreamed(nft, { parts: [whole.slice(0, cut), bad, whole.slice(cut)], last: '' }).catch((e: unknown) => e)
    t.type(err, NftApplyError)
    t.match((err as Error).message, /qf-no-such-chain/, 'the refused line is quoted')
    t.equal(await lab.rulesetShape(), shape, 'the ruleset is as it was')
  })

  await t.test('an nft started ahead: it takes its one transaction; left unused (the command failed before), it takes nothing', async (t) => {
    await lab.apply(CLOSED)
    const shape = await lab.rulesetShape()
    await t.rejects(withNftReading(nft, async () => Promise.reject(new Error('the push did not parse'))), /the push did not parse/)
    t.equal(await lab.rulesetShape(), shape, 'unused: the ruleset is as it was')
    const open = await streamedFor(lab, OPEN)
    await withNftReading(nft, async (reading) => {
      await reading.load(open)
      await t.rejects(reading.load(open), /takes one transaction/, 'a second transaction is refused')
    })
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed' }, { label: 'used: its transaction is in force' })
  })

  await t.test('a last part over PIPE_BUF is refused before nft runs', async (t) => {
    await t.rejects(runNftStreamed(nft, { parts: [], last: `${'#'.repeat(PIPE_BUF)}\n` }), /more than PIPE_BUF/)
  })

  t.same(leftovers(), [], 'no FIFO or directory is left behind')
}
