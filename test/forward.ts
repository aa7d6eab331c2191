// Port forwards: the dom0 options and the agent's push form, valid next to invalid.
import t from 'tap'
import { forwardFamilies } from '../dom0-tools/forward/model.js'
import { forwardFromOptions, type ForwardOptions } from '../dom0-tools/forward/parse.js'
import { forwardProperties } from '../dom0-tools/forward/format.js'
import { parseForwardRule } from '../netvm-agent/push/forward.js'

const dom0Cases: [input: ForwardOptions, want: string | RegExp][] = [
  [{ proto: 'tcp', port: '443' }, 'proto=tcp port=443 families=4,6'],
  [{ proto: 'udp', port: '53', outsidePort: '5353' }, 'proto=udp port=53 outside_port=5353 families=4,6'],
  [{ proto: 'tcp', port: '443', from: '192.0.2.0/24' }, 'proto=tcp port=443 from=192.0.2.0/24 families=4'],
  [{ proto: 'tcp', port: '443', from: '2001:db8::/32', iface: 'ens6' }, 'proto=tcp port=443 from=2001:db8::/32 iface=ens6 families=6'],
  [{ proto: 'tcp', port: '443', from: '10.0.0.1' }, 'proto=tcp port=443 from=10.0.0.1/32 families=4'],
  [{ proto: 'icmp', port: '1' }, /^invalid proto 'icmp' \(expected tcp or udp\)$/],
  [{ port: '1' }, /^missing proto= \(tcp or udp\)$/],
  [{ proto: 'tcp' }, /^a forward needs the VM's port$/],
  [{ proto: 'tcp', port: '0' }, /^invalid port '0' \(expected 1-65535\)$/],
  [{ proto: 'tcp', port: '65536' }, /^invalid port '65536' \(expected 1-65535\)$/],
  [{ proto: 'tcp', port: '80', outsidePort: 'http' }, /^invalid outside port 'http' \(expected 1-65535\)$/],
  [{ proto: 'tcp', port: '80', outsidePort: '0' }, /^invalid outside port '0' \(expected 1-65535\)$/],
  [{ proto: 'tcp', port: '80', from: 'example.com' }, /^invalid from 'example\.com' \(expected an IPv4 or IPv6 network\)$/],
  [{ proto: 'tcp', port: '80', from: '10.0.0.0/33' }, /^invalid dsthost '10\.0\.0\.0\/33' \(netmask must be 0-32\)$/],
  [{ proto: 'tcp', port: '80', iface: 'eth0; rm' }, /^invalid iface 'eth0; rm' \(1-15 of A-Z a-z 0-9 _ \. -\)$/],
  [{ proto: 'tcp', port: '80', iface: 'averyveryverylongname' }, /^invalid iface 'averyveryverylongname'/],
]

t.test('forward add options', async (t) => {
  t.plan(dom0Cases.length)
  for (const [input, want] of dom0Cases) {
    t.test(JSON.stringify(input), async (t) => {
      if (typeof want === 'string') {
        const forward = forwardFromOptions(input)
        const text = [...forwardProperties(forward).map(([k, v]) => `${k}=${v}`), `families=${forwardFamilies(forward).join(',')}`].join(' ')
        t.equal(text, want)
      } else {
        t.throws(() => forwardFromOptions(input), want)
      }
    })
  }
})

const agentCases: [input: string, want: string | RegExp][] = [
  ['proto=tcp dport=8443 to=10.137.0.2 toport=443', '4 tcp 8443 10.137.0.2 443 - -'],
  ['proto=udp dport=53 to=fd09:24ef:4179::a89:2 toport=53 from=2001:db8::/32', '6 udp 53 fd09:24ef:4179::a89:2 53 2001:db8::/32 -'],
  ['proto=tcp dport=1 to=10.137.0.2 toport=2 from=192.0.2.0/24 iface=eth0', '4 tcp 1 10.137.0.2 2 192.0.2.0/24 eth0'],
  ['proto=tcp dport=1 to=10.137.0.2 toport=2 from=2001:db8::/32', /^from '2001:db8::\/32' is not of the family of to$/],
  ['proto=tcp dport=1 to=010.137.0.2 toport=2', /^invalid to '010\.137\.0\.2'/],
  ['proto=tcp dport=1 to=www.example toport=2', /^invalid to 'www\.example'/],
  ['proto=tcp dport=1-2 to=10.137.0.2 toport=2', /^invalid dport '1-2' \(expected 1-65535\)$/],
  ['proto=tcp dport=0 to=10.137.0.2 toport=2', /^invalid dport '0' \(expected 1-65535\)$/],
  ['proto=sctp dport=1 to=10.137.0.2 toport=2', /^invalid proto 'sctp' \(expected tcp or udp\)$/],
  ['dport=1 to=10.137.0.2 toport=2', /^missing proto= \(tcp or udp\)$/],
  ['proto=tcp dport=80-80 to=10.137.0.2 toport=2', /^invalid dport '80-80' \(expected 1-65535\)$/],
  ['proto=tcp dport=1 to=10.137.0.2 toport=2 iface=a"b', /^invalid iface 'a"b' \(1-15 of A-Z a-z 0-9 _ \. -\)$/],
  ['proto=tcp dport=1 to=10.137.0.2 toport=2 from=example.com', /^invalid from 'example\.com' \(expected an IPv4 or IPv6 network\)$/],
  ['proto=tcp dport=1 to=10.137.0.2 toport=2 extra=1', /^unsupported option 'extra'$/],
  ['proto=tcp  dport=1 to=10.137.0.2 toport=2', /^malformed element ''/],
  ['proto=tcp dport=1 dport=2 to=10.137.0.2 toport=2', /^option 'dport' given twice$/],
]

t.test('the agent reads a hop\'s forward entries strictly', async (t) => {
  t.plan(agentCases.length)
  for (const [input, want] of agentCases) {
    t.test(input, async (t) => {
      if (typeof want === 'string') {
        const f = parseForwardRule('0000', input)
        t.equal([f.family, f.proto, f.dport, f.to, f.toport, f.from ? `${f.from.address}/${f.from.prefix}` : '-', f.iface ?? '-'].join(' '), want)
      } else {
        t.throws(() => parseForwardRule('0000', input), want)
      }
    })
  }
})
