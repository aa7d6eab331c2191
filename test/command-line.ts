// An exec: transport's command line: shell-style words with quotes, or a JSON array; never split
// on whitespace alone, and an unbalanced quote is an error (not a guess).
import t from 'tap'
import { parseCommandLine } from '../dom0-tools/apply/command-line.js'
import { parseTransport } from '../dom0-tools/apply/transport.js'

const cases: [input: string, want: string[] | RegExp][] = [
  ["qrexec-client -d {netvm} 'root:QUBESRPC qubes.FirewallAgent dom0'", ['qrexec-client', '-d', '{netvm}', 'root:QUBESRPC qubes.FirewallAgent dom0']],
  ['qrexec-client -d {netvm} "root:QUBESRPC qubes.FirewallAgent dom0"', ['qrexec-client', '-d', '{netvm}', 'root:QUBESRPC qubes.FirewallAgent dom0']],
  ['ssh   root@{netvm}\tqubes-firewall-agent connect', ['ssh', 'root@{netvm}', 'qubes-firewall-agent', 'connect']],
  ['a "b \\" c" d\\ e', ['a', 'b " c', 'd e']],
  ["a 'it''s'", ['a', 'its']],
  ['a ""', ['a', '']],
  ["a '$HOME' \"\\$x\"", ['a', '$HOME', '$x']],
  ['["ip","netns","exec","sys-firewall","qubes-firewall-agent","connect"]', ['ip', 'netns', 'exec', 'sys-firewall', 'qubes-firewall-agent', 'connect']],
  ['["a b"]', ['a b']],
  ["a 'b", /^unbalanced single quote$/],
  ['a "b', /^unbalanced double quote$/],
  ['a \\', /^a backslash at the end$/],
  ['   ', /^no command$/],
  ['[]', /^a JSON command line must be a non-empty array of strings$/],
  ['["a", 1]', /^a JSON command line must be a non-empty array of strings$/],
  ['["a"', /^not a JSON array: /],
]

t.test('parseCommandLine', async (t) => {
  t.plan(cases.length)
  for (const [input, want] of cases) {
    t.test(input, async (t) => {
      if (want instanceof RegExp) t.throws(() => parseCommandLine(input), { name: 'CommandLineError', message: want })
      else t.same(parseCommandLine(input), want)
    })
  }
})

t.test('the transport feature: {netvm} replaced in each word after splitting', async (t) => {
  t.same(parseTransport("exec:qrexec-client -d {netvm} 'root:QUBESRPC qubes.FirewallAgent dom0'", 'sys-firewall'), {
    kind: 'exec', argv: ['qrexec-client', '-d', 'sys-firewall', 'root:QUBESRPC qubes.FirewallAgent dom0'],
  })
  t.same(parseTransport('unix:/run/{netvm}.sock', 'sys-net'), { kind: 'unix', path: '/run/sys-net.sock' })
  t.throws(() => parseTransport("exec:ssh 'root@{netvm}", 'sys-net'), { message: /^sys-net: feature qubes-firewall-transport: unbalanced single quote in / })
})
