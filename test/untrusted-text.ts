// Untrusted text in a message: cut at one limit with the cut shown, never a control character.
import t from 'tap'
import { shown, UNTRUSTED_KEY_LIMIT, UNTRUSTED_TEXT_LIMIT } from '../common/untrusted-text.js'

const a = (n: number) => 'a'.repeat(n)
// U+1F525, two code units: a cut must not split it
const FIRE = '\u{1F525}'

const cases: [what: string, untrusted: string, limit: number | undefined, want: string][] = [
  ['empty', '', undefined, ''],
  ['a short word as it is', 'allow', undefined, 'allow'],
  ['exactly the limit: no cut', a(UNTRUSTED_TEXT_LIMIT), undefined, a(UNTRUSTED_TEXT_LIMIT)],
  ['one more: cut and marked', a(UNTRUSTED_TEXT_LIMIT + 1), undefined, `${a(UNTRUSTED_TEXT_LIMIT)}…`],
  ['a megabyte: cut', a(1 << 20), undefined, `${a(UNTRUSTED_TEXT_LIMIT)}…`],
  ['a newline cannot forge a second line', 'x\nqubes-firewall-agent: all good', undefined, 'x?qubes-firewall-agent: all good'],
  ['carriage return and tab', 'a\rb\tc', undefined, 'a?b?c'],
  ['ESC cannot drive the terminal', '\u001b[31mred\u001b[0m', undefined, '?[31mred?[0m'],
  ['NUL and DEL', '\u0000\u007f', undefined, '??'],
  ['C1 controls (CSI, NEL)', '\u009b2J\u0085', undefined, '?2J?'],
  ['Unicode line and paragraph separators', 'a\u2028b\u2029c', undefined, 'a?b?c'],
  ['other non-ASCII kept', 'café ١٢٣', undefined, 'café ١٢٣'],
  ['a control past the cut is gone with it', `${a(UNTRUSTED_TEXT_LIMIT)}\n`, undefined, `${a(UNTRUSTED_TEXT_LIMIT)}…`],
  ['characters are code points', FIRE.repeat(UNTRUSTED_TEXT_LIMIT), undefined, FIRE.repeat(UNTRUSTED_TEXT_LIMIT)],
  ['a cut never splits a surrogate pair', FIRE.repeat(UNTRUSTED_TEXT_LIMIT + 1), undefined, `${FIRE.repeat(UNTRUSTED_TEXT_LIMIT)}…`],
  ['a pair straddling twice the limit', `a${FIRE.repeat(UNTRUSTED_TEXT_LIMIT)}`, undefined, `a${FIRE.repeat(UNTRUSTED_TEXT_LIMIT - 1)}…`],
  ['a key keeps the longer limit', `/qubes-firewall/${a(200)}`, UNTRUSTED_KEY_LIMIT, `/qubes-firewall/${a(UNTRUSTED_KEY_LIMIT - 16)}…`],
  ['a key within it as it is', '/qubes-firewall/fd09:24ef:4179::a89:5/0000', UNTRUSTED_KEY_LIMIT, '/qubes-firewall/fd09:24ef:4179::a89:5/0000'],
]

t.test('shown', async (t) => {
  t.plan(cases.length)
  for (const [what, untrusted, limit, want] of cases) t.test(what, async (t) => t.equal(shown(untrusted, limit), want))
})

t.test('the limits: one for a value, a longer one for a whole key', async (t) => {
  t.equal(UNTRUSTED_TEXT_LIMIT, 60)
  t.equal(UNTRUSTED_KEY_LIMIT, 120)
})
