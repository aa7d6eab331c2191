// qvm-connect-tcp's argument: Qubes' forms accepted, everything else refused with one line.
import t from 'tap'
import { parseBinding, type Binding } from '../vm-hooks/connect-tcp/binding.js'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'
import { mapLimited } from './helpers/pool.js'

const BIN = built('vm-hooks/bin/qvm-connect-tcp.js')

// no timeout of our own: tap's bounds the test, and a loaded machine is slow, not wrong
const cli = (...args: string[]): Promise<Outcome> => outcome(process.execPath, [BIN, ...args])

const b = (localPort: number, vm: string, port: number) => ({ localPort, vm, port }) as Binding

// a string: the exact error message
const cases: [input: string, want: Binding | string][] = [
  ['444:@default:444', b(444, '@default', 444)],
  ['::444', b(444, '@default', 444)],
  ['10444:mytcp-service:444', b(10444, 'mytcp-service', 444)],
  [':work:80', b(80, 'work', 80)],
  ['8080::80', b(8080, '@default', 80)],
  ['1:a:65535', b(1, 'a', 65535)],
  ['65535:sys-net.2_x:1', b(65535, 'sys-net.2_x', 1)],
  ['', "invalid binding '': expected [localport]:[vmname]:[port]"],
  ['444', "invalid binding '444': expected [localport]:[vmname]:[port]"],
  ['444:work', "invalid binding '444:work': expected [localport]:[vmname]:[port]"],
  ['1:2:3:4', "invalid binding '1:2:3:4': expected [localport]:[vmname]:[port]"],
  ['[::1]:80:work:80', "invalid binding '[::1]:80:work:80': expected [localport]:[vmname]:[port]"],
  ['::', 'Please provide PORT'],
  ['444:work:', 'Please provide PORT'],
  ['0:work:80', "Invalid port provided: '0' (expected 1-65535)"],
  ['65536:work:80', "Invalid port provided: '65536' (expected 1-65535)"],
  ['80:work:0', "Invalid port provided: '0' (expected 1-65535)"],
  ['80:work:65536', "Invalid port provided: '65536' (expected 1-65535)"],
  ['80:work:100000', "Invalid port provided: '100000' (expected 1-65535)"],
  ['080:work:80', "Invalid port provided: '080' (expected 1-65535)"],
  ['80:work:022', "Invalid port provided: '022' (expected 1-65535)"],
  ['0x50:work:80', "Invalid port provided: '0x50' (expected 1-65535)"],
  ['+80:work:80', "Invalid port provided: '+80' (expected 1-65535)"],
  ['-1:work:80', "Invalid port provided: '-1' (expected 1-65535)"],
  [' 80:work:80', "Invalid port provided: ' 80' (expected 1-65535)"],
  ['80:work:8e1', "Invalid port provided: '8e1' (expected 1-65535)"],
  ['80:work:80.0', "Invalid port provided: '80.0' (expected 1-65535)"],
  ['http:work:80', "Invalid port provided: 'http' (expected 1-65535)"],
  ['80:work:\u0663', "Invalid port provided: '\u0663' (expected 1-65535)"],
  ['80:a b:80', "VM name contains illegal characters: 'a b'"],
  ['80:1work:80', "VM name contains illegal characters: '1work'"],
  ['80:@dispvm:80', "VM name contains illegal characters: '@dispvm'"],
  ['80:@anyvm:80', "VM name contains illegal characters: '@anyvm'"],
  ['80:$default:80', "VM name contains illegal characters: '$default'"],
  ['80:work\n:80', "VM name contains illegal characters: 'work?'"],
  ['80:default:80', "VM name cannot be 'none' nor 'default': 'default'"],
  ['80:none:80', "VM name cannot be 'none' nor 'default': 'none'"],
  ['80:sys-net-dm:80', "VM name cannot end with -dm: 'sys-net-dm'"],
  [`80:${'a'.repeat(32)}:80`, `VM name must be shorter than 32 characters: '${'a'.repeat(32)}'`],
]

t.test('parseBinding', async (t) => {
  t.plan(cases.length)
  for (const [input, want] of cases) {
    t.test(JSON.stringify(input), async (t) => {
      if (typeof want === 'string') t.throws(() => parseBinding(input), { name: 'BindingError', message: want })
      else t.same(parseBinding(input), want)
    })
  }
})

t.test('the command refuses each invalid binding with exactly one line and exit 1', async (t) => {
  const invalid = cases.filter((c): c is [string, string] => typeof c[1] === 'string')
  t.plan(invalid.length)
  // `--`: so that `-1:work:80` reaches the parser, not commander's option parsing
  const outcomes = await mapLimited(invalid, ([input]) => cli('--state-dir', '/nonexistent/never-used', '--', input))
  invalid.forEach(([input, message], i) => {
    t.same(outcomes[i], { code: 1, stdout: '', stderr: `qvm-connect-tcp: error: ${message}\n` }, JSON.stringify(input))
  })
})

t.test('usage errors are one line too', async (t) => {
  const usage: [args: string[], stderr: string][] = [
    [[], 'qvm-connect-tcp: error: Usage: qvm-connect-tcp [localport]:[vmname]:[port]\n'],
    [['1:a:1', '2:b:2'], 'qvm-connect-tcp: error: too many arguments. Expected 1 argument but got 2.\n'],
    [['--bogus', '1:a:1'], "qvm-connect-tcp: error: unknown option '--bogus'\n"],
    [['-1:work:80'], "qvm-connect-tcp: error: unknown option '-1:work:80'\n"],
    [['--list', '1:a:1'], 'qvm-connect-tcp: error: --list takes no [localport]:[vmname]:[port]\n'],
    [['--stop', '1', '--list'], 'qvm-connect-tcp: error: --list cannot be combined with --stop\n'],
    [['--stop', '0444'], "qvm-connect-tcp: error: --stop: Invalid port provided: '0444' (expected 1-65535)\n"],
    [['--persist'], 'qvm-connect-tcp: error: Usage: qvm-connect-tcp [localport]:[vmname]:[port]\n'],
    [['--unpersist', 'x'], "qvm-connect-tcp: error: --unpersist: Invalid port provided: 'x' (expected 1-65535)\n"],
    [['--persist', '--foreground', '1:a:1'], 'qvm-connect-tcp: error: --persist cannot be combined with --foreground\n'],
  ]
  t.plan(usage.length)
  const outcomes = await mapLimited(usage, ([args]) => cli('--state-dir', '/nonexistent/never-used', ...args))
  usage.forEach(([args, stderr], i) => t.same(outcomes[i], { code: 1, stdout: '', stderr }, args.join(' ')))
})

t.test('--help documents the forms, 127.0.0.1 only, --list, --stop and --persist', async (t) => {
  const help = await cli('--help')
  t.equal(help.code, 0)
  for (const text of ['[localport]:[vmname]:[port]', '::444', 'Listens on 127.0.0.1:LOCALPORT only', '$QREXEC_CLIENT_VM VMNAME qubes.ConnectTCP+PORT', '--list', '--stop', '--persist', 'ListenStream=127.0.0.1:444']) {
    t.ok(help.stdout.includes(text), text)
  }
})
