// The resolver against a real dnsmasq: A and AAAA, CNAME chains, NXDOMAIN, TCP when the UDP answer
// is truncated, a server that does not answer, all from inside a namespace of the test's own.
import { execFile, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { until } from '../helpers/wait.js'

const exec = promisify(execFile)
const NS = `qf${process.pid}-dns`
const SERVER = '192.0.2.53'
const dir = mkdtempSync(join(tmpdir(), 'qf-resolver-'))
// dnsmasq reads its hosts file as nobody
chmodSync(dir, 0o755)

// 60 addresses make an answer of about 1 KB: more than the 512 bytes of a UDP answer without EDNS
const bigAddresses = Array.from({ length: 60 }, (_, i) => `203.0.113.${i + 1}`)
writeFileSync(join(dir, 'hosts'), [
  '192.0.2.10 www.lab.example', '2001:db8::10 www.lab.example', '198.51.100.10 v4only.lab.example',
  ...bigAddresses.map((a) => `${a} big.lab.example`),
].join('\n') + '\n')

t.before(async () => {
  await exec('ip', ['netns', 'add', NS])
  await exec('ip', ['-n', NS, 'link', 'set', 'lo', 'up'])
  await exec('ip', ['-n', NS, 'addr', 'add', `${SERVER}/32`, 'dev', 'lo'])
  const dnsmasq = spawn('ip', ['netns', 'exec', NS, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces',
    `--listen-address=${SERVER}`, `--addn-hosts=${join(dir, 'hosts')}`, '--cname=alias.lab.example,www.lab.example',
    '--cname=alias2.lab.example,alias.lab.example', '--local=/lab.example/', '--pid-file=', '--log-facility=-'], { stdio: 'ignore' })
  t.teardown(() => void dnsmasq.kill())
  // dnsmasq is ready once it answers
  await until('dnsmasq answering', async () => (await resolve('www.lab.example'))['www.lab.example']?.addresses !== undefined)
})
t.teardown(async () => {
  await exec('ip', ['netns', 'del', NS]).catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
})

async function resolve(...names: string[]): Promise<Record<string, { addresses?: string[]; error?: string }>> {
  const { stdout } = await exec('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', 'test/fixtures/bin/resolve.ts', SERVER, ...names])
  return JSON.parse(stdout) as Record<string, { addresses?: string[]; error?: string }>
}

const cases: [name: string, want: string[] | RegExp][] = [
  ['www.lab.example', ['192.0.2.10', '2001:db8::10']],
  ['v4only.lab.example', ['198.51.100.10']],
  ['alias.lab.example', ['192.0.2.10', '2001:db8::10']],
  ['alias2.lab.example', ['192.0.2.10', '2001:db8::10']],
  ['big.lab.example', bigAddresses],
  ['nosuch.lab.example', /NXDOMAIN/],
]

t.test('names, all resolved in parallel', async (t) => {
  const results = await resolve(...cases.map(([name]) => name))
  t.plan(cases.length)
  for (const [name, want] of cases) {
    const got = results[name]
    if (want instanceof RegExp) t.match(got?.error, want, name)
    else t.same([...(got?.addresses ?? [])].sort(), [...want].sort(), name)
  }
})

t.test('a server that does not answer fails within the bounded time', async (t) => {
  // the resolver's own timeouts bound the wait: returning at all, with an error, is the proof
  const { stdout } = await exec('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', 'test/fixtures/bin/resolve.ts', '192.0.2.99', 'www.lab.example'])
  const result = (JSON.parse(stdout) as Record<string, { error?: string }>)['www.lab.example']
  t.ok(result?.error, `fails: ${result?.error}`)
})
