// Evaluates a call against a policy as Qubes 4.2's qrexec-policy-daemon does: the intended
// target is normalised (a qube that does not exist becomes @default), the first rule whose
// service, argument, source and target match decides, and allow resolves target= / @default.
// There is no user here to answer `ask`: it is denied, and the reason says so.
import type { DomainInfo, Policy, PolicyRequest, PolicyRule, Resolution, SystemInfo, VmToken, Where } from './model.js'

const RPC_NAME = /^[A-Za-z0-9._-]+$/
const ARGUMENT = /^\+[A-Za-z0-9._+-]*$/

function deny(reason: string, rule?: Where): Resolution {
  return { verdict: 'deny', reason, rule }
}

export function where(rule: Where): string {
  return `${rule.file}:${rule.line}`
}

/** Qubes' IntendedTarget.verify(): what a requested target stands for, or why it cannot be one. */
export function intendedTarget(untrustedTarget: string, system: SystemInfo): { target: string } | { error: string } {
  const target = untrustedTarget === '' ? '@default' : untrustedTarget === 'dom0' ? '@adminvm' : untrustedTarget
  if (target === '@default' || target === '@adminvm' || target === '@dispvm') return { target }
  if (target.startsWith('@dispvm:')) {
    const name = target.slice('@dispvm:'.length)
    return system.domains.get(name)?.templateForDispvms === true ? { target } : { error: `not a template for dispvm: ${name}` }
  }
  if (target.startsWith('@') || target === '*') return { error: `invalid target: '${target}'` }
  // Qubes 4.2: a qube that does not exist is asked for as @default (its existence is not told)
  return { target: system.domains.has(target) ? target : '@default' }
}

function info(system: SystemInfo, name: string | undefined): DomainInfo | undefined {
  return name === undefined ? undefined : system.domains.get(name)
}

/** The template a request for `@dispvm` from `source` means: its default_dispvm. */
function defaultDispvmTemplate(system: SystemInfo, source: string): string | undefined {
  return info(system, source)?.defaultDispvm
}

/** Does `token` (from a rule) match `other` (a source name, or a normalised intended target)? */
export function matches(token: VmToken, other: string, system: SystemInfo, source: string): boolean {
  switch (token.kind) {
    case 'wildcard': return true
    case 'anyvm': return other !== '@adminvm'
    case 'adminvm': return other === '@adminvm'
    case 'default': return other === '@default'
    case 'dispvm': return other === '@dispvm'
    case 'name': return other === token.name
    case 'type': return info(system, other)?.type === token.type
    case 'tag': return info(system, other)?.tags.includes(token.tag) === true
    case 'dispvm-template':
      return other === '@dispvm' ? defaultDispvmTemplate(system, source) === token.name : other === `@dispvm:${token.name}`
    case 'dispvm-tag': {
      const template = other === '@dispvm' ? defaultDispvmTemplate(system, source) : other.startsWith('@dispvm:') ? other.slice('@dispvm:'.length) : undefined
      const domain = info(system, template)
      return domain !== undefined && domain.templateForDispvms && domain.tags.includes(token.tag)
    }
  }
}

function ruleMatches(rule: PolicyRule, request: PolicyRequest, source: string, target: string, system: SystemInfo): boolean {
  return (
    (rule.service === undefined || rule.service === request.service) &&
    (rule.argument === undefined || rule.argument === request.argument) &&
    matches(rule.source, source, system, request.source) &&
    matches(rule.target, target, system, request.source)
  )
}

function tokenText(token: VmToken): string {
  switch (token.kind) {
    case 'adminvm': return '@adminvm'
    case 'dispvm': return '@dispvm'
    case 'dispvm-template': return `@dispvm:${token.name}`
    case 'name': return token.name
    default: return `@${token.kind}`
  }
}

function allow(rule: PolicyRule, redirect: VmToken | undefined, user: string | undefined, request: PolicyRequest, target: string, system: SystemInfo): Resolution {
  const resolved = redirect === undefined ? { target } : intendedTarget(tokenText(redirect), system)
  if ('error' in resolved) return deny(resolved.error, rule.where)
  let actual = resolved.target
  if (actual === '@default') return deny(`policy define 'allow' action at ${where(rule.where)} but no target is specified by caller or policy`, rule.where)
  if (actual === '@dispvm') {
    const template = defaultDispvmTemplate(system, request.source)
    if (template === undefined) return deny(`policy define 'allow' action to @dispvm at ${where(rule.where)} but no DispVM base is set for this VM`, rule.where)
    actual = `@dispvm:${template}`
  } else if (actual === '@adminvm') {
    actual = 'dom0'
  }
  return { verdict: 'allow', target: actual, user, rule: rule.where }
}

export function evaluate(policy: Policy, request: PolicyRequest, system: SystemInfo): Resolution {
  if (!RPC_NAME.test(request.service)) return deny(`invalid service: '${request.service}'`)
  if (!ARGUMENT.test(request.argument)) return deny(`invalid argument: '${request.argument}'`)
  const source = request.source === 'dom0' ? '@adminvm' : request.source
  if (source !== '@adminvm' && !system.domains.has(source)) return deny(`invalid source: '${request.source}'`)
  const intended = intendedTarget(request.target, system)
  if ('error' in intended) return deny(intended.error)
  const rule = policy.rules.find((r) => ruleMatches(r, request, source, intended.target, system))
  if (rule === undefined) return deny('no matching rule found')
  switch (rule.action.action) {
    case 'deny':
      return deny(`denied by policy ${where(rule.where)}`, rule.where)
    case 'ask':
      return deny(`policy define 'ask' action at ${where(rule.where)}: there is no one to ask here, so it is denied`, rule.where)
    case 'allow':
      return allow(rule, rule.action.target, rule.action.user, request, intended.target, system)
  }
}

/** `SERVICE+ARG` (or `SERVICE`) as Qubes splits it: the argument keeps its `+`; none is `+`. */
export function splitServiceCall(untrustedCall: string): { service: string; argument: string } {
  const plus = untrustedCall.indexOf('+')
  return plus === -1 ? { service: untrustedCall, argument: '+' } : { service: untrustedCall.slice(0, plus), argument: untrustedCall.slice(plus) }
}
