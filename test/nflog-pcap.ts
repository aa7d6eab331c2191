// The NFLOG pcap stream from `tcpdump -i nflog:N -U -w -`: records out of chunks split anywhere,
// each packet's addresses and ports, a bad record skipped and counted, a bad stream refused.
import t from 'tap'
import ipaddr from 'ipaddr.js'
import { NflogPcapReader, type NflogRecord } from '../netvm-agent/droplog/nflog-pcap.js'

/** The bytes of `xxd` output: the hex columns between the offset and the text. */
const fromXxd = (dump: string) =>
  Buffer.from(
    dump
      .trim()
      .split('\n')
      .map((line) => line.slice(10, 49).replace(/ /g, ''))
      .join(''),
    'hex',
  )

// captured here: tcpdump -i nflog:5 -U -w -, UDP 127.0.0.1:57074 -> 127.0.0.2:9999, prefix "qf 10.137.0.2 r3"
const SAMPLE = fromXxd(`
00000000: d4c3 b2a1 0200 0400 0000 0000 0000 0000  ................
00000010: 0000 0400 ef00 0000 0f00 136b 4ebb 0900  ...........kN...
00000020: 6000 0000 6000 0000 0200 0005 0800 0100  \`...\`...........
00000030: 0800 0300 1500 0a00 7166 2031 302e 3133  ........qf 10.13
00000040: 372e 302e 3220 7233 0000 0000 0800 0500  7.0.2 r3........
00000050: 0000 0001 0800 0b00 0000 0000 0800 0e00  ................
00000060: 0000 0000 2300 0900 4500 001f 1a43 4000  ....#...E....C@.
00000070: 4011 2288 7f00 0001 7f00 0002 def2 270f  @."...........'.
00000080: 000b fe1f 6869 0a00                      ....hi..
`)
const SAMPLE_TIME = new Date(0x6b13000f * 1000 + 637)
const SAMPLE_RECORD: NflogRecord = {
  time: SAMPLE_TIME,
  group: 5,
  prefix: 'qf 10.137.0.2 r3',
  family: 4,
  proto: 'udp',
  src: '127.0.0.1',
  dst: '127.0.0.2',
  sport: 57074,
  dport: 9999,
}

// --- builders: a pcap stream in either byte order, NFLOG TLVs, IP packets ---

interface Order { le?: boolean; nano?: boolean }
const u16 = (n: number, le = true) => Buffer.from(le ? [n & 0xff, n >> 8] : [n >> 8, n & 0xff])
const u32 = (n: number, le = true) => {
  const b = Buffer.alloc(4)
  if (le) b.writeUInt32LE(n)
  else b.writeUInt32BE(n)
  return b
}

function globalHeader({ le = true, nano = false, linkType = 239, snaplen = 262144 }: Order & { linkType?: number; snaplen?: number } = {}): Buffer {
  const magic = nano ? 0xa1b23c4d : 0xa1b2c3d4
  return Buffer.concat([u32(magic, le), u16(2, le), u16(4, le), u32(0, le), u32(0, le), u32(snaplen, le), u32(linkType, le)])
}

function pcapRecord(data: Buffer, { le = true, sec = 1_700_000_000, sub = 250_000, origLen = data.length } = {}): Buffer {
  return Buffer.concat([u32(sec, le), u32(sub, le), u32(data.length, le), u32(origLen, le), data])
}

function tlv(type: number, value: Buffer, le = true): Buffer {
  const padding = Buffer.alloc((4 - ((value.length + 4) % 4)) % 4)
  return Buffer.concat([u16(value.length + 4, le), u16(type, le), value, padding])
}

function nflog(payload: Buffer, { family = 2, group = 7, prefix = 'qf test', le = true } = {}): Buffer {
  return Buffer.concat([
    Buffer.from([family, 0, group >> 8, group & 0xff]),
    tlv(1, Buffer.from([family === 2 ? 0x08 : 0x86, family === 2 ? 0x00 : 0xdd, 1, 0]), le),
    tlv(10, Buffer.from(`${prefix}\0`), le),
    tlv(9, payload, le),
  ])
}

const bytes = (address: string) => Buffer.from(ipaddr.parse(address).toByteArray())

function ipv4(proto: number, src: string, dst: string, rest: Buffer, { options = 0, fragment = 0 } = {}): Buffer {
  const header = Buffer.alloc(20 + options)
  header.writeUInt8(0x40 | ((20 + options) / 4), 0)
  header.writeUInt16BE(header.length + rest.length, 2)
  header.writeUInt16BE(fragment, 6)
  header.writeUInt8(64, 8)
  header.writeUInt8(proto, 9)
  bytes(src).copy(header, 12)
  bytes(dst).copy(header, 16)
  return Buffer.concat([header, rest])
}

function ipv6(next: number, src: string, dst: string, rest: Buffer): Buffer {
  const header = Buffer.alloc(40)
  header.writeUInt8(0x60, 0)
  header.writeUInt16BE(rest.length, 4)
  header.writeUInt8(next, 6)
  header.writeUInt8(64, 7)
  bytes(src).copy(header, 8)
  bytes(dst).copy(header, 24)
  return Buffer.concat([header, rest])
}

const ports = (sport: number, dport: number, size = 20) => Buffer.concat([u16(sport, false), u16(dport, false), Buffer.alloc(size - 4)])
const icmp = (type: number, code: number) => Buffer.from([type, code, 0, 0, 0, 0, 0, 0])
// hop-by-hop (len 0: 8 bytes) then `next`
const hopByHop = (next: number) => Buffer.from([next, 0, 1, 4, 0, 0, 0, 0])
const fragmentHeader = (next: number, offset: number) => Buffer.concat([Buffer.from([next, 0]), u16(offset << 3, false), Buffer.alloc(4)])

function readAll(stream: Buffer): { records: NflogRecord[]; malformed: number } {
  const reader = new NflogPcapReader()
  const records = reader.push(stream)
  return { records, malformed: reader.malformed }
}

t.test('the real sample, all fields', async (t) => {
  t.same(readAll(SAMPLE), { records: [SAMPLE_RECORD], malformed: 0 })
  t.equal(SAMPLE.length, 0x88, 'the sample is whole')
})

t.test('the sample one byte at a time: the same record, once, at its last byte', async (t) => {
  const reader = new NflogPcapReader()
  const out: [at: number, record: NflogRecord][] = []
  for (let i = 0; i < SAMPLE.length; i++) for (const record of reader.push(SAMPLE.subarray(i, i + 1))) out.push([i, record])
  t.same(out, [[SAMPLE.length - 1, SAMPLE_RECORD]])
})

t.test('two records in one chunk, then a third split over two chunks', async (t) => {
  const sampleRecord = SAMPLE.subarray(24)
  const tcp = pcapRecord(nflog(ipv4(6, '10.137.0.5', '8.8.8.8', ports(40000, 443)), { group: 3, prefix: 'r1' }))
  const reader = new NflogPcapReader()
  const second: NflogRecord = { time: new Date(1_700_000_000_250), group: 3, prefix: 'r1', family: 4, proto: 'tcp', src: '10.137.0.5', dst: '8.8.8.8', sport: 40000, dport: 443 }
  t.same(reader.push(Buffer.concat([SAMPLE, tcp])), [SAMPLE_RECORD, second])
  t.same(reader.push(sampleRecord.subarray(0, 10)), [])
  t.same(reader.push(sampleRecord.subarray(10)), [SAMPLE_RECORD])
})

// one packet each, through a whole stream: what the record says beyond time, group and prefix
type Layer3 = Omit<NflogRecord, 'time' | 'group' | 'prefix'>
const V6A = 'fd09:24ef:4179::a89:5'
const V6B = '2001:db8::1'
const packets: [what: string, family: number, payload: Buffer, want: Layer3 | 'malformed'][] = [
  ['IPv4 TCP', 2, ipv4(6, '10.137.0.5', '192.168.1.1', ports(1234, 80)), { family: 4, proto: 'tcp', src: '10.137.0.5', dst: '192.168.1.1', sport: 1234, dport: 80 }],
  ['IPv4 with options: ports after IHL', 2, ipv4(17, '10.0.0.1', '10.0.0.2', ports(53, 5353, 8), { options: 8 }), { family: 4, proto: 'udp', src: '10.0.0.1', dst: '10.0.0.2', sport: 53, dport: 5353 }],
  ['IPv4 ICMP port unreachable', 2, ipv4(1, '10.0.0.1', '10.0.0.2', icmp(3, 3)), { family: 4, proto: 'icmp', src: '10.0.0.1', dst: '10.0.0.2', icmpType: 3, icmpCode: 3 }],
  ['IPv4 header only: no ports', 2, ipv4(6, '10.0.0.1', '10.0.0.2', Buffer.alloc(0)), { family: 4, proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2' }],
  ['IPv4 TCP cut inside the ports', 2, ipv4(6, '10.0.0.1', '10.0.0.2', Buffer.from([0x04, 0xd2, 0x00])), { family: 4, proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2' }],
  ['IPv4 later fragment: no ports', 2, ipv4(17, '10.0.0.1', '10.0.0.2', ports(1, 2, 8), { fragment: 0x2000 | 185 }), { family: 4, proto: 'udp', src: '10.0.0.1', dst: '10.0.0.2' }],
  ['IPv4 other protocol: its number', 2, ipv4(47, '10.0.0.1', '10.0.0.2', ports(1, 2)), { family: 4, proto: 47, src: '10.0.0.1', dst: '10.0.0.2' }],
  ['IPv4 cut before the addresses', 2, ipv4(6, '10.0.0.1', '10.0.0.2', Buffer.alloc(0)).subarray(0, 19), 'malformed'],
  ['IPv4 family with an IPv6 packet', 2, ipv6(6, V6A, V6B, ports(1, 2)), 'malformed'],
  ['IPv6 TCP after hop-by-hop', 10, ipv6(0, V6A, V6B, Buffer.concat([hopByHop(6), ports(50000, 22)])), { family: 6, proto: 'tcp', src: V6A, dst: V6B, sport: 50000, dport: 22 }],
  ['IPv6 ICMPv6 echo request', 10, ipv6(58, V6B, V6A, icmp(128, 0)), { family: 6, proto: 'icmpv6', src: V6B, dst: V6A, icmpType: 128, icmpCode: 0 }],
  ['IPv6 UDP, first fragment: ports', 10, ipv6(44, V6A, V6B, Buffer.concat([fragmentHeader(17, 0), ports(5, 6, 8)])), { family: 6, proto: 'udp', src: V6A, dst: V6B, sport: 5, dport: 6 }],
  ['IPv6 UDP, later fragment: no ports', 10, ipv6(44, V6A, V6B, Buffer.concat([fragmentHeader(17, 100), ports(5, 6, 8)])), { family: 6, proto: 'udp', src: V6A, dst: V6B }],
  ['IPv6 cut inside hop-by-hop: its number', 10, ipv6(0, V6A, V6B, hopByHop(6).subarray(0, 6)), { family: 6, proto: 0, src: V6A, dst: V6B }],
  ['IPv6 hop-by-hop longer than the capture', 10, ipv6(0, V6A, V6B, Buffer.from([6, 5, 0, 0, 0, 0, 0, 0])), { family: 6, proto: 'tcp', src: V6A, dst: V6B }],
  ['IPv6 header only', 10, ipv6(6, V6A, V6B, Buffer.alloc(0)), { family: 6, proto: 'tcp', src: V6A, dst: V6B }],
  ['IPv6 cut before the destination', 10, ipv6(6, V6A, V6B, Buffer.alloc(0)).subarray(0, 39), 'malformed'],
  ['bridge family: not ours', 7, ipv4(6, '10.0.0.1', '10.0.0.2', ports(1, 2)), 'malformed'],
]

t.test('packets', async (t) => {
  t.plan(packets.length)
  for (const [what, family, payload, want] of packets) {
    t.test(what, async (t) => {
      const { records, malformed } = readAll(Buffer.concat([globalHeader(), pcapRecord(nflog(payload, { family }))]))
      if (want === 'malformed') t.same({ records, malformed }, { records: [], malformed: 1 })
      else t.same({ records, malformed }, { records: [{ time: new Date(1_700_000_000_250), group: 7, prefix: 'qf test', ...want }], malformed: 0 })
    })
  }
})

// the same packet in each pcap flavour: byte order of every header field and the TLVs, us or ns
const flavours: [what: string, order: Required<Order>, sub: number, wantMs: number][] = [
  ['little endian, microseconds', { le: true, nano: false }, 999_999, 999],
  ['big endian, microseconds', { le: false, nano: false }, 123_456, 123],
  ['little endian, nanoseconds', { le: true, nano: true }, 987_654_321, 987],
  ['big endian, nanoseconds', { le: false, nano: true }, 1_000_000, 1],
]

t.test('pcap flavours', async (t) => {
  t.plan(flavours.length)
  for (const [what, order, sub, wantMs] of flavours) {
    t.test(what, async (t) => {
      const data = nflog(ipv4(17, '10.137.0.9', '1.1.1.1', ports(33000, 53, 8)), { le: order.le, group: 0x1234 })
      const stream = Buffer.concat([globalHeader(order), pcapRecord(data, { le: order.le, sec: 86400, sub })])
      const want: NflogRecord = { time: new Date(86400_000 + wantMs), group: 0x1234, prefix: 'qf test', family: 4, proto: 'udp', src: '10.137.0.9', dst: '1.1.1.1', sport: 33000, dport: 53 }
      t.same(readAll(stream), { records: [want], malformed: 0 })
    })
  }
})

t.test('a bad TLV skips its record only', async (t) => {
  const good = nflog(ipv4(6, '10.0.0.1', '10.0.0.2', ports(1, 2)))
  // the prefix TLV's length says 2: shorter than its own header
  const bad = Buffer.from(good)
  bad.writeUInt16LE(2, 12)
  // a TLV running past the end of the record
  const past = Buffer.from(good)
  past.writeUInt16LE(0x200, 12)
  const reader = new NflogPcapReader()
  const records = reader.push(Buffer.concat([globalHeader(), pcapRecord(bad), pcapRecord(good)]))
  t.same(records.map((r) => r.sport), [1])
  t.equal(reader.malformed, 1)
  t.equal(reader.push(Buffer.concat([pcapRecord(past), pcapRecord(good), pcapRecord(Buffer.from([2, 1, 0, 7]))])).length, 1, 'past the record, and version 1, skipped too')
  t.equal(reader.malformed, 3)
})

t.test('no payload TLV: malformed; no prefix TLV: an empty prefix', async (t) => {
  const noPayload = Buffer.concat([Buffer.from([2, 0, 0, 7]), tlv(10, Buffer.from('p\0'))])
  const noPrefix = Buffer.concat([Buffer.from([2, 0, 0, 7]), tlv(9, ipv4(1, '10.0.0.1', '10.0.0.2', icmp(8, 0)))])
  const { records, malformed } = readAll(Buffer.concat([globalHeader(), pcapRecord(noPayload), pcapRecord(noPrefix)]))
  t.same({ prefixes: records.map((r) => r.prefix), malformed }, { prefixes: [''], malformed: 1 })
})

t.test('the prefix: bounded to 128 bytes, cut at its NUL, UTF-8', async (t) => {
  const long = 'x'.repeat(300)
  const payload = ipv4(6, '10.0.0.1', '10.0.0.2', ports(1, 2))
  const withNul = Buffer.concat([Buffer.from([2, 0, 0, 7]), tlv(10, Buffer.from('a\0junk\0')), tlv(9, payload)])
  const stream = Buffer.concat([globalHeader(), pcapRecord(nflog(payload, { prefix: long })), pcapRecord(withNul), pcapRecord(nflog(payload, { prefix: 'café' }))])
  t.same(readAll(stream).records.map((r) => r.prefix), ['x'.repeat(128), 'a', 'café'])
})

t.test('a capture shorter than the packet: the last TLV may be cut', async (t) => {
  const data = nflog(ipv4(6, '10.0.0.1', '10.0.0.2', ports(1, 2)))
  // cut inside the TCP header, past the ports, as a snaplen would
  const cut = data.subarray(0, data.length - 10)
  const stream = Buffer.concat([globalHeader(), pcapRecord(cut, { origLen: data.length }), pcapRecord(cut)])
  const { records, malformed } = readAll(stream)
  t.same({ ports: records.map((r) => [r.sport, r.dport]), malformed }, { ports: [[1, 2]], malformed: 1 }, 'only when incl_len < orig_len')
})

const refused: [what: string, stream: Buffer, message: string][] = [
  ['Ethernet link type', globalHeader({ linkType: 1 }), "tcpdump's output is not an NFLOG capture (link type 1)"],
  ['big endian, link type 113', globalHeader({ le: false, linkType: 113 }), "tcpdump's output is not an NFLOG capture (link type 113)"],
  ['pcapng', Buffer.concat([Buffer.from('0a0d0d0a', 'hex'), Buffer.alloc(20)]), "tcpdump's output is not a pcap stream (magic 0x0a0d0d0a)"],
  ['incl_len over 262144', Buffer.concat([globalHeader({ snaplen: 1 << 30 }), u32(0), u32(0), u32(262145), u32(262145)]), "tcpdump's output is corrupt: a record of 262145 bytes (at most 262144)"],
  // the real capture of a 128-byte snaplen had records of 176 bytes: the TLVs come on top
  ['incl_len over the snaplen and its TLVs', Buffer.concat([globalHeader({ snaplen: 96 }), u32(0), u32(0), u32(4193), u32(4193)]), "tcpdump's output is corrupt: a record of 4193 bytes (at most 4192)"],
  ['garbage as incl_len, big endian', Buffer.concat([globalHeader({ le: false }), u32(0), u32(0), u32(0xffffffff), u32(1)]), "tcpdump's output is corrupt: a record of 4294967295 bytes (at most 262144)"],
]

t.test('refused streams', async (t) => {
  t.plan(refused.length)
  for (const [what, stream, message] of refused) {
    t.test(what, async (t) => {
      const reader = new NflogPcapReader()
      t.throws(() => reader.push(stream), { name: 'NflogPcapError', message })
      t.throws(() => reader.push(SAMPLE.subarray(24)), { message }, 'and stays refused')
    })
  }
})

t.test('a header split across chunks is read once whole', async (t) => {
  const reader = new NflogPcapReader()
  t.same(reader.push(SAMPLE.subarray(0, 23)), [])
  t.same(reader.push(SAMPLE.subarray(23, 24 + 15)), [])
  t.same(reader.push(SAMPLE.subarray(24 + 15)), [SAMPLE_RECORD])
  t.same(reader.push(Buffer.alloc(0)), [])
})
