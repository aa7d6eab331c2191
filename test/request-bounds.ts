// A request's cost is bounded on its text, before JSON.parse: depth and number of values.
import t from 'tap'
import { REQUEST_LIMITS, requestShapeProblem } from '../netvm-agent/daemon/bounds.js'
import { parseRequest } from '../netvm-agent/daemon/protocol.js'

const many = (n: number) => JSON.stringify({ op: 'remove', ips: Array.from({ length: n }, (_, i) => `10.137.${i >> 8 & 255}.${i & 255}`) })

const cases: [what: string, line: string, want: string | undefined][] = [
  ['a push', JSON.stringify({ op: 'update', entries: { '/qubes-firewall/10.137.0.5': '', '/qubes-firewall/10.137.0.5/policy': 'drop' } }), undefined],
  ['brackets inside strings do not count', JSON.stringify({ op: 'update', entries: { '/x': '[[[[{{{{,,,,"' } }), undefined],
  ['status', '{"op":"status"}', undefined],
  ['a third level', JSON.stringify({ op: 'update', entries: { a: { b: 'c' } } }), 'request nested deeper than 2 levels'],
  ['a 1 MB line of [', '['.repeat(1 << 20), 'request nested deeper than 2 levels'],
  ['a remove of more addresses than a push may have entries', many(REQUEST_LIMITS.values + 2), `request holds more than ${REQUEST_LIMITS.values} values`],
  ['a remove at the limit', many(REQUEST_LIMITS.values), undefined],
]

t.test('requestShapeProblem', async (t) => {
  t.plan(cases.length)
  for (const [what, line, want] of cases) t.test(what, async (t) => t.equal(requestShapeProblem(line), want))
})

t.test('parseRequest refuses an out-of-bounds request with that reason', async (t) => {
  t.throws(() => parseRequest('['.repeat(100)), { name: 'RequestError', message: 'request nested deeper than 2 levels' })
  t.same(parseRequest('{"op":"remove","ips":["10.137.0.5"]}'), { op: 'remove', ips: ['10.137.0.5'] })
})
