// What a netvm's agent answers to `hits`, `check`, `log` and `status`: untrusted (it comes from a VM),
// parsed here once into typed values, every number bounded and every text shown safely. A field
// that is off is one error line naming it; `ok:false` is the agent's own error.
import type { DecidedBy, Decision } from '../../common/observe/decision.js'
import { parseDrop, unreadableDrop, type Drop } from '../../common/observe/drop.js'
import type { ChainHits, Counter } from '../../common/observe/hits.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../../common/untrusted-text.js'


/** A line of the drop log: the first answer to a `log` request, a later drop, or a drop that did not parse. */
export type LogLine =
  | { readonly kind: 'start'; readonly state: string; readonly drops: readonly Drop[]; readonly unreadable: readonly string[] }
  | { readonly kind: 'drop'; readonly drop: Drop }
  | { readonly kind: 'unreadable'; readonly message: string }

/** A field of an answer that is off. */
export class AnswerError extends Error {
  override name = 'AnswerError'
}

/** The agent's `{"ok":false,"error":...}`, its error shown safely. */
export class AgentRefusal extends Error {
  override name = 'AgentRefusal'
}

type Fields = Readonly<Record<string, unknown>>

// a rule's NNNN key; a VM holds at most 10,000 rules at the agent
const MAX_RULE_NO = 99_999
// the agent's reason quotes a rule, a name of up to 253 characters and what it resolved to
const REASON_LIMIT = 400

function described(untrusted: unknown): string {
  if (untrusted === undefined) return 'missing'
  return `'${shown(typeof untrusted === 'string' ? untrusted : JSON.stringify(untrusted) ?? typeof untrusted)}'`
}

function fieldsOf(untrusted: unknown, where: string): Fields {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted)) throw new AnswerError(`${where} is ${described(untrusted)}, not an object`)
  return untrusted as Fields
}

function listOf(untrusted: unknown, where: string): readonly unknown[] {
  if (!Array.isArray(untrusted)) throw new AnswerError(`${where} is ${described(untrusted)}, not a list`)
  return untrusted
}

function integer(untrusted: unknown, where: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(untrusted) || (untrusted as number) < 0 || (untrusted as number) > max) {
    throw new AnswerError(`${where} is ${described(untrusted)}, not ${max === Number.MAX_SAFE_INTEGER ? 'a whole number' : `a number 0-${max}`}`)
  }
  return untrusted as number
}

/** An answer the agent gave with ok:true; its refusal (or anything else) thrown. */
function okAnswer(untrusted: unknown): Fields {
  const answer = fieldsOf(untrusted, 'the answer')
  if (answer['ok'] === true) return answer
  const error = answer['error']
  if (answer['ok'] === false) throw new AgentRefusal(typeof error === 'string' ? shown(error, UNTRUSTED_KEY_LIMIT) : 'the agent refused without saying why')
  throw new AnswerError(`ok is ${described(answer['ok'])}, not true or false`)
}

function forIp(answer: Fields, ip: string): void {
  if (answer['ip'] !== ip) throw new AnswerError(`ip is ${described(answer['ip'])}, not ${ip}`)
}

function counter(untrusted: unknown, where: string): Counter {
  const fields = fieldsOf(untrusted, where)
  const last = fields['last'] === null ? null : integer(fields['last'], `${where}.last`)
  return { packets: integer(fields['packets'], `${where}.packets`), bytes: integer(fields['bytes'], `${where}.bytes`), last }
}

/** Two counts of one rule (its chains for IPv4 and IPv6) as one: the sums, and the later growth. */
export function addCounters(a: Counter | undefined, b: Counter): Counter {
  if (a === undefined) return b
  const last = a.last === null ? b.last : b.last === null ? a.last : Math.max(a.last, b.last)
  return { packets: a.packets + b.packets, bytes: a.bytes + b.bytes, last }
}

/** `{"op":"hits","ip":IP}`'s answer. */
export function parseHits(untrusted: unknown, ip: string): ChainHits {
  const answer = okAnswer(untrusted)
  forIp(answer, ip)
  const rules = new Map<number, Counter>()
  listOf(answer['rules'], 'rules').forEach((untrustedRule, i) => {
    const no = integer(fieldsOf(untrustedRule, `rules[${i}]`)['rule'], `rules[${i}].rule`, MAX_RULE_NO)
    rules.set(no, addCounters(rules.get(no), counter(untrustedRule, `rules[${i}]`)))
  })
  const blocked = answer['blocked'] === undefined ? undefined : counter(answer['blocked'], 'blocked')
  return { rules, policy: counter(answer['policy'], 'policy'), ...(blocked && { blocked }) }
}

function decidedBy(untrusted: unknown): DecidedBy {
  if (untrusted === 'policy' || untrusted === 'blocked' || untrusted === 'isolation') return untrusted
  if (typeof untrusted === 'object' && untrusted !== null && !Array.isArray(untrusted)) return { rule: integer((untrusted as Fields)['rule'], 'by.rule', MAX_RULE_NO) }
  throw new AnswerError(`by is ${described(untrusted)}, not a rule, policy, blocked or isolation`)
}

/** `{"op":"check",...}`'s answer. */
export function parseDecision(untrusted: unknown, ip: string): Decision {
  const answer = okAnswer(untrusted)
  forIp(answer, ip)
  const { action, reason } = answer
  if (action !== 'accept' && action !== 'drop') throw new AnswerError(`action is ${described(action)}, not accept or drop`)
  if (typeof reason !== 'string') throw new AnswerError(`reason is ${described(reason)}, not a text`)
  return { action, by: decidedBy(answer['by']), reason: shown(reason, REASON_LIMIT) }
}

/** A line of a `log` connection: the first answer (`state`, `drops`), or a later `{"ok":true,"drop":...}`. */
export function parseLogLine(untrusted: unknown): LogLine {
  const answer = okAnswer(untrusted)
  if ('drop' in answer) {
    const drop = parseDrop(answer['drop'])
    return drop === undefined ? { kind: 'unreadable', message: unreadableDrop(answer['drop']) } : { kind: 'drop', drop }
  }
  const state = answer['state']
  if (typeof state !== 'string') throw new AnswerError(`state is ${described(state)}, not a text`)
  const drops: Drop[] = []
  const unreadable: string[] = []
  for (const untrustedDrop of listOf(answer['drops'], 'drops')) {
    const drop = parseDrop(untrustedDrop)
    if (drop === undefined) unreadable.push(unreadableDrop(untrustedDrop))
    else drops.push(drop)
  }
  return { kind: 'start', state: shown(state), drops, unreadable }
}

/** From `{"op":"status"}`'s answer: the push numbers of the rules of `ips` whose expire time is `now` or before. */
export function parseExpired(untrusted: unknown, ips: readonly string[], now: number): Set<number> {
  const expired = new Set<number>()
  listOf(okAnswer(untrusted)['vms'], 'vms').forEach((untrustedVm, i) => {
    const vm = fieldsOf(untrustedVm, `vms[${i}]`)
    if (typeof vm['ip'] !== 'string' || !ips.includes(vm['ip']) || vm['expiries'] === undefined) return
    listOf(vm['expiries'], `vms[${i}].expiries`).forEach((untrustedExpiry, j) => {
      const where = `vms[${i}].expiries[${j}]`
      const expiry = fieldsOf(untrustedExpiry, where)
      const rule = integer(expiry['rule'], `${where}.rule`, MAX_RULE_NO)
      if (integer(expiry['expire'], `${where}.expire`) <= now) expired.add(rule)
    })
  })
  return expired
}
