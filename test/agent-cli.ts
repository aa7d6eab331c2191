// qubes-firewall-agent as a command: the push read from stdin whatever stdin is, render
// deterministic, and no base table (input policy drop) made on an ordinary host unless forced.
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'

const BIN = built('netvm-agent/bin/qubes-firewall-agent.js')
const FIXTURE = 'test/fixtures/push/mixed.json'

/** The agent with `input` written to a pipe as its stdin (not a file: the case readFileSync(0) got wrong). */
function agent(args: string[], input: string | Buffer, env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    // no nameservers: the fixture's names fail closed here instead of leaving this machine
    const child = spawn(process.execPath, [BIN, '--resolv-conf', '/dev/null', ...args], { env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.stdin.on('error', () => {})
    child.stdin.end(input)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

/** The fixture push grown past 64 KiB with VMs whose rules need no DNS. */
function bigPush(): string {
  const entries = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, string>
  for (let i = 0; i < 600; i++) {
    const ip = `10.138.${i >> 8}.${(i & 255) + 1}`
    entries[`/qubes-firewall/${ip}`] = ''
    entries[`/qubes-firewall/${ip}/policy`] = 'drop'
    entries[`/qubes-firewall/${ip}/0000`] = `action=accept dst4=192.0.2.${i % 250}/32 proto=tcp dstports=443-443`
  }
  return JSON.stringify(entries)
}

t.test('render reads a push of any size from a pipe, and two renders are identical', async (t) => {
  const push = bigPush()
  t.ok(push.length > 64 * 1024, `the push is ${push.length} bytes`)
  const first = await agent(['render'], push)
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /qf-vm-10-138-2-88-g/, 'the last VM is rendered')
  const second = await agent(['render'], push)
  t.equal(second.stdout, first.stdout, 'byte for byte the same')
})

t.test('input that is not JSON is named as such; an empty pipe says there was none', async (t) => {
  t.match(await agent(['render'], '{"op":'), { code: 1, stdout: '', stderr: /^qubes-firewall-agent: error: input is not JSON: .+\n$/ })
  t.same(await agent(['render'], ''), { code: 1, stdout: '', stderr: 'qubes-firewall-agent: error: no input: the push comes on standard input, as JSON\n' })
  t.same(await agent(['render'], ' \n'), { code: 1, stdout: '', stderr: 'qubes-firewall-agent: error: no input: the push comes on standard input, as JSON\n' })
})

t.test("serve's refresh options: whole seconds, the minimum not above the maximum, one error line", async (t) => {
  const cases: [args: string[], error: RegExp][] = [
    [['--refresh-min-ttl', '0'], /option '--refresh-min-ttl <seconds>' argument '0' is invalid\. '0' is not a number of seconds \(1-604800\)/],
    [['--grace', '1.5'], /'1\.5' is not a number of seconds/],
    [['--refresh-max-ttl', 'soon'], /'soon' is not a number of seconds/],
    [['--refresh-min-ttl', '60', '--refresh-max-ttl', '30'], /^qubes-firewall-agent: error: --refresh-min-ttl 60 is above --refresh-max-ttl 30\n$/],
  ]
  for (const [args, error] of cases) {
    const r = await agent(['--socket', `${t.testdir()}/never.sock`, 'serve', ...args], '')
    t.match(r, { code: 1, stdout: '', stderr: error }, args.join(' '))
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
  }
})

t.test('render from a file on stdin', async (t) => {
  const viaFile = await outcome('sh', ['-c', `${process.execPath} ${BIN} --resolv-conf /dev/null render < ${FIXTURE}`])
  const viaPipe = await agent(['render'], readFileSync(FIXTURE))
  t.equal(viaFile.code, 0, viaFile.stderr)
  t.equal(viaFile.stdout, viaPipe.stdout)
})

t.test('apply on an ordinary host refuses to make the base table, unless --force', { skip: process.getuid?.() !== 0 ? 'needs root to see the host namespace' : false }, async (t) => {
  // nothing is loaded for real: a stand-in nft that finds no table and records what it is given
  const dir = t.testdir()
  const log = `${dir}/nft.log`
  writeFileSync(log, '')
  const envLog = `${dir}/nft-env.log`
  const env = { QUBES_FIREWALL_NFT: `${process.cwd()}/test/fixtures/bin/fake-nft`, FAKE_NFT_LOG: log, FAKE_NFT_ENV_LOG: envLog }
  const push = readFileSync(FIXTURE)
  // this test runs in the host's own namespace, which has no vif* interface
  const refused = await agent(['apply'], push, env)
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^qubes-firewall-agent: error: refusing to create table ip\/ip6 qubes here: .*would cut this host off.*or pass --force\n$/)
  t.equal(readFileSync(log, 'utf8'), '', 'nothing was given to nft')
  const forced = await agent(['--force', 'apply'], push, env)
  t.equal(forced.code, 0, forced.stderr)
  t.match(readFileSync(log, 'utf8'), /policy drop ;/, 'with --force the base table is made')
  // the listing's nft and the loading one: malloc on huge pages (nft/env.ts), no history in root's home
  const runs = readFileSync(envLog, 'utf8').trim().split('\n')
  t.ok(runs.length >= 2, `nft ran for the listing and the load (${runs.length} runs)`)
  t.same(new Set(runs), new Set(['HOME=/dev/null GLIBC_TUNABLES=glibc.malloc.hugetlb=1']))
  // fake-nft finds no table, as render assumes: what apply loaded is what render prints, byte for byte
  const rendered = await agent(['render'], push, env)
  t.equal(`${rendered.stdout}\n`, readFileSync(log, 'utf8'), 'render prints what apply loads')
})
