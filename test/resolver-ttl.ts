// A resolved name carries how long its answer holds: the smallest TTL of the records used (A, AAAA,
// every CNAME followed, a NODATA's SOA per RFC 2308), across A and AAAA. A server on 127.0.0.1.
import { createSocket, type Socket } from 'node:dgram'
import dnsPacket from 'dns-packet'
import t from 'tap'
import { resolveName, type Resolution } from '../common/dns/resolver.js'

const soa = (ttl: number, minimum: number): dnsPacket.Answer => ({
  type: 'SOA', name: 'example', ttl,
  data: { mname: 'ns.example', rname: 'hostmaster.example', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
})

// what the server answers, by "TYPE name"; any other question is NODATA without an SOA
const zone: Record<string, { answers: dnsPacket.Answer[]; authorities?: dnsPacket.Answer[] }> = {
  'A both.example': { answers: [{ type: 'A', name: 'both.example', ttl: 300, data: '192.0.2.1' }] },
  'AAAA both.example': { answers: [{ type: 'AAAA', name: 'both.example', ttl: 120, data: '2001:db8::1' }] },
  // the chain and its end in one answer, as a recursive server gives them
  'A alias.example': {
    answers: [
      { type: 'CNAME', name: 'alias.example', ttl: 60, data: 'target.example' },
      { type: 'A', name: 'target.example', ttl: 3600, data: '192.0.2.2' },
    ],
  },
  'AAAA alias.example': { answers: [{ type: 'CNAME', name: 'alias.example', ttl: 60, data: 'target.example' }] },
  // the chain only: the resolver asks again for its end
  'A chase.example': { answers: [{ type: 'CNAME', name: 'chase.example', ttl: 45, data: 'far.example' }] },
  'AAAA chase.example': { answers: [{ type: 'CNAME', name: 'chase.example', ttl: 45, data: 'far.example' }] },
  'A far.example': { answers: [{ type: 'A', name: 'far.example', ttl: 900, data: '192.0.2.3' }] },
  'A nodata.example': { answers: [], authorities: [soa(900, 30)] },
  'AAAA nodata.example': { answers: [], authorities: [soa(900, 30)] },
  'A v4only.example': { answers: [{ type: 'A', name: 'v4only.example', ttl: 300, data: '192.0.2.4' }] },
  'AAAA v4only.example': { answers: [], authorities: [soa(900, 30)] },
  'A v4only-soa-ttl.example': { answers: [{ type: 'A', name: 'v4only-soa-ttl.example', ttl: 300, data: '192.0.2.4' }] },
  'AAAA v4only-soa-ttl.example': { answers: [], authorities: [soa(20, 3600)] },
  'A v4only-no-soa.example': { answers: [{ type: 'A', name: 'v4only-no-soa.example', ttl: 300, data: '192.0.2.4' }] },
  'A many.example': {
    answers: [
      { type: 'A', name: 'many.example', ttl: 500, data: '192.0.2.5' },
      { type: 'A', name: 'many.example', ttl: 200, data: '192.0.2.6' },
      // not the name asked for: not used, its TTL does not count
      { type: 'A', name: 'other.example', ttl: 5, data: '192.0.2.99' },
    ],
  },
  'A huge.example': { answers: [{ type: 'A', name: 'huge.example', ttl: 0x80000000, data: '192.0.2.7' }] },
}

async function server(): Promise<number> {
  const socket: Socket = createSocket('udp4')
  socket.on('message', (message, peer) => {
    const query = dnsPacket.decode(message)
    const question = query.questions?.[0]
    if (question === undefined) return
    const { answers, authorities = [] } = zone[`${question.type} ${question.name.toLowerCase()}`] ?? { answers: [] }
    const response = dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.RECURSION_DESIRED, questions: [question], answers, authorities })
    socket.send(response, peer.port, peer.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  t.teardown(() => socket.close())
  return socket.address().port
}

const port = await server()

const cases: [name: string, want: Resolution, behaviour: string][] = [
  ['both.example', { addresses: ['192.0.2.1', '2001:db8::1'], ttl: 120 }, 'A and AAAA: the smaller of the two'],
  ['alias.example', { addresses: ['192.0.2.2'], ttl: 60 }, 'a CNAME shorter than the A it leads to'],
  ['chase.example', { addresses: ['192.0.2.3'], ttl: 45 }, 'a CNAME from an earlier answer counts'],
  ['many.example', { addresses: ['192.0.2.5', '192.0.2.6'], ttl: 200 }, 'the smallest of the records used, none other'],
  ['v4only.example', { addresses: ['192.0.2.4'], ttl: 30 }, 'NODATA for AAAA: its SOA minimum, smaller than the SOA TTL'],
  ['v4only-soa-ttl.example', { addresses: ['192.0.2.4'], ttl: 20 }, 'NODATA for AAAA: its SOA TTL, smaller than the SOA minimum'],
  ['v4only-no-soa.example', { addresses: ['192.0.2.4'], ttl: 300 }, 'NODATA for AAAA without an SOA: no TTL from it'],
  ['huge.example', { addresses: ['192.0.2.7'], ttl: 0 }, 'a TTL with the top bit set counts as zero (RFC 2181)'],
  // no address of either type stays a failure, as before: no TTL on it
  ['nodata.example', { error: 'no A or AAAA record' }, 'NODATA for both, with an SOA'],
]

t.plan(cases.length)
for (const [name, want, behaviour] of cases) {
  t.test(`${name}: ${behaviour}`, async (t) => {
    t.strictSame(await resolveName(name, { nameservers: ['127.0.0.1'], port }), want)
  })
}
