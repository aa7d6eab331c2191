// One apply's DNS is bounded as a whole: a server that never answers costs the budget, not
// attempts x servers x CNAME hops x the query timeout; names beyond the limit fail at once.
// A server on 127.0.0.1 that answers is the positive control.
import { createSocket, type Socket } from 'node:dgram'
import dnsPacket from 'dns-packet'
import t, { type Test } from 'tap'
import { forFamily, resolveAll } from '../common/dns/resolver.js'

/** A server that answers (A 192.0.2.7, AAAA 2001:db8::7 when `aaaa`), or never; `dropA`: never answers A. */
async function server(t: Test, answer: boolean, opts: { aaaa?: boolean; dropA?: boolean } = {}): Promise<number> {
  const socket: Socket = createSocket('udp4')
  socket.on('message', (message, peer) => {
    if (!answer) return
    const query = dnsPacket.decode(message)
    const question = query.questions?.[0]
    if (question === undefined || (opts.dropA && question.type === 'A')) return
    const answers =
      question.type === 'A' ? [{ type: 'A' as const, name: question.name, data: '192.0.2.7' }]
      : question.type === 'AAAA' && opts.aaaa ? [{ type: 'AAAA' as const, name: question.name, data: '2001:db8::7' }] : []
    socket.send(dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.RECURSION_DESIRED, questions: [question], answers }), peer.port, peer.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  t.teardown(() => socket.close())
  return socket.address().port
}

t.test('a server that answers: names resolve within the budget (positive control)', async (t) => {
  const port = await server(t, true)
  const resolved = await resolveAll(['a.example', 'b.example'], { nameservers: ['127.0.0.1'], port, budgetMs: 60_000 })
  // the server's records carry no TTL: dns-packet sends 0
  t.same(resolved.get('a.example'), { addresses: ['192.0.2.7'], ttl: 0 })
  t.same(resolved.get('b.example'), { addresses: ['192.0.2.7'], ttl: 0 })
})

t.test('a server that never answers: every name fails once the budget is spent, not after every retry', async (t) => {
  const port = await server(t, false)
  // each query would wait 60 s, twice: only the budget can end this
  const resolved = await resolveAll(['a.example', 'b.example'], { nameservers: ['127.0.0.1'], port, timeoutMs: 60_000, budgetMs: 300 })
  t.same(resolved.get('a.example'), { error: "not resolved within the apply's DNS budget" })
  t.same(resolved.get('b.example'), { error: "not resolved within the apply's DNS budget" })
})

t.test('names beyond the limit of one apply fail at once', async (t) => {
  const port = await server(t, true)
  const resolved = await resolveAll(['a.example', 'b.example', 'c.example'], { nameservers: ['127.0.0.1'], port, maxNames: 2 })
  t.same([...resolved.values()], [{ addresses: ['192.0.2.7'], ttl: 0 }, { addresses: ['192.0.2.7'], ttl: 0 }, { error: 'more than 2 names in one apply' }])
})

t.test("one family's query fails while the other answers: the answer says which, and forFamily makes it that family's failure", async (t) => {
  const port = await server(t, true, { aaaa: true, dropA: true })
  const resolved = await resolveAll(['a.example'], { nameservers: ['127.0.0.1'], port, timeoutMs: 200, attempts: 1 })
  const answer = resolved.get('a.example')
  t.match(answer, { addresses: ['2001:db8::7'], failed: { 4: /timed out|timeout/ } })
  if (answer === undefined) return
  t.match(forFamily(answer, 4), { error: /^A query failed: / }, 'for an IPv4 VM: a failure')
  t.same(forFamily(answer, 6), answer, 'for an IPv6 VM: the answer')
})
