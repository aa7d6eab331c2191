// What became of a push to one netvm, and the one line that tells the user: apart from the push
// itself, so that commands that only list need not load the network code.
import { TRANSPORT_FEATURE } from './transport.js'

export interface AgentAnswer {
  ok: boolean
  applied?: string[]
  failed?: { vm: string; rule: number | null; name?: string; error: string }[]
  resolved?: Record<string, string[]>
  error?: string
}

export type NetvmOutcome =
  | { readonly netvm: string; readonly status: 'applied'; readonly answer: AgentAnswer }
  | { readonly netvm: string; readonly status: 'failed'; readonly answer: AgentAnswer }
  | { readonly netvm: string; readonly status: 'unreachable'; readonly error: string }
  /** No transport configured and nothing at the default socket: this netvm runs no agent of ours. */
  | { readonly netvm: string; readonly status: 'unmanaged' }

export function describeOutcome(vm: string | undefined, outcome: NetvmOutcome): string {
  const what = vm === undefined ? 'rules' : `rules of ${vm}`
  if (outcome.status === 'unmanaged') return `${what} saved; ${outcome.netvm} runs no agent (no ${TRANSPORT_FEATURE} feature)`
  if (outcome.status === 'unreachable') return `warning: ${what} saved but not applied: agent of ${outcome.netvm} unreachable (${outcome.error}); they apply at its next push`
  const answer = outcome.answer
  const names = Object.entries(answer.resolved ?? {}).map(([name, addrs]) => `${name} -> ${addrs.join(' ')}`)
  if (outcome.status === 'applied') return `${what} applied in ${outcome.netvm}${names.length > 0 ? ` (${names.join('; ')})` : ''}`
  const problems = (answer.failed ?? []).map((f) => `${f.vm}${f.rule !== null ? ` rule ${f.rule}` : ''}: ${f.error}`)
  return `${outcome.netvm}: ${answer.error ?? (problems.length > 0 ? problems.join('; ') : 'the agent refused without saying why')}`
}
