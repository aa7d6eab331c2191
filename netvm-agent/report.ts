// What an apply answers: the VMs applied, every failure (a VM blocked, a rule whose name did not
// resolve, a forward left out), and what each name resolved to. Pure.
import type { RenderContext } from './nft/render.js'
import { liveRules } from './names/resolve.js'
import type { VmEntry } from './push/model.js'

export interface Failure {
  vm: string
  rule: number | null
  name?: string
  error: string
}

export interface ApplyResult {
  ok: boolean
  applied: string[]
  failed: Failure[]
  resolved: Record<string, string[]>
  removed?: string[]
  error?: string
}

export function applyResult(
  pushed: ReadonlyMap<string, VmEntry>,
  ctx: RenderContext,
  removed: readonly string[],
  forwardErrors: readonly { readonly id: string; readonly error: string }[],
): ApplyResult {
  const failed: Failure[] = forwardErrors.map((f) => ({ vm: `forward ${f.id}`, rule: null, error: `left out: ${f.error}` }))
  const resolved: Record<string, string[]> = {}
  const applied: string[] = []
  for (const [ip, entry] of pushed) {
    if (!entry.ok) {
      failed.push({ vm: ip, rule: entry.failure.rule, error: `blocked: ${entry.failure.error}` })
      continue
    }
    applied.push(ip)
    for (const rule of liveRules(entry, ctx.now)) {
      if (rule.dsthost?.kind !== 'name') continue
      const res = ctx.resolution(ip, rule.dsthost.name)
      if ('addresses' in res) resolved[rule.dsthost.name] = [...res.addresses]
      else failed.push({ vm: ip, rule: rule.number, name: rule.dsthost.name, error: `${rule.dsthost.name}: ${res.error}` })
    }
  }
  return { ok: failed.length === 0, applied, failed, resolved, ...(removed.length > 0 && { removed: [...removed] }) }
}
