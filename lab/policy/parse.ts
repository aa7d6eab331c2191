// One line of a Qubes 4.2 policy file, parsed and checked as Qubes' parser does
// (qrexec/policy/parser.py): `SERVICE|* +ARGUMENT|* SOURCE TARGET allow|deny|ask [PARAM=VALUE ...]`.
// Names are checked too (Qubes takes any unknown word for a qube that never matches): a typo
// such as `$anyvm` fails the whole policy, closed, instead of silently matching nothing.
import { PolicyError, type PolicyAction, type PolicyRule, type VmToken, type Where } from './model.js'

export type TokenContext = 'source' | 'target' | 'redirect'

// qrexec's RPCNAME_ALLOWED_CHARSET
const RPC_NAME = /^[A-Za-z0-9._+-]+$/
const VM_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/
const WORD = /^[A-Za-z0-9_.-]+$/
const ALLOWED: Record<TokenContext, ReadonlySet<VmToken['kind']>> = {
  source: new Set(['wildcard', 'anyvm', 'adminvm', 'dispvm-template', 'dispvm-tag', 'tag', 'type', 'name']),
  target: new Set(['wildcard', 'anyvm', 'adminvm', 'default', 'dispvm', 'dispvm-template', 'dispvm-tag', 'tag', 'type', 'name']),
  redirect: new Set(['adminvm', 'dispvm', 'dispvm-template', 'name']),
}
const PARAMS: Record<PolicyAction['action'], ReadonlySet<string>> = {
  allow: new Set(['target', 'user', 'notify', 'autostart']),
  deny: new Set(['notify']),
  ask: new Set(['target', 'default_target', 'user', 'notify', 'autostart']),
}

function fail(where: Where, reason: string): never {
  throw new PolicyError(where.file, where.line, reason)
}

function tokenOf(untrusted: string): VmToken | undefined {
  const prefixed = (prefix: string): string | undefined => {
    if (!untrusted.startsWith(prefix)) return undefined
    const value = untrusted.slice(prefix.length)
    return WORD.test(value) ? value : undefined
  }
  switch (untrusted) {
    case '*': return { kind: 'wildcard' }
    case '@anyvm': return { kind: 'anyvm' }
    case '@adminvm':
    case 'dom0': return { kind: 'adminvm' }
    case '@default': return { kind: 'default' }
    case '@dispvm': return { kind: 'dispvm' }
  }
  const dispvmTag = prefixed('@dispvm:@tag:')
  if (dispvmTag !== undefined) return { kind: 'dispvm-tag', tag: dispvmTag }
  const dispvm = untrusted.startsWith('@dispvm:@') ? undefined : prefixed('@dispvm:')
  if (dispvm !== undefined) return VM_NAME.test(dispvm) ? { kind: 'dispvm-template', name: dispvm } : undefined
  const tag = prefixed('@tag:')
  if (tag !== undefined) return { kind: 'tag', tag }
  const type = prefixed('@type:')
  if (type !== undefined) return { kind: 'type', type }
  return VM_NAME.test(untrusted) ? { kind: 'name', name: untrusted } : undefined
}

/** A qube specification where `context` allows it; Qubes' message otherwise. */
export function parseToken(untrusted: string, context: TokenContext, where: Where): VmToken {
  const token = tokenOf(untrusted)
  if (token === undefined || !ALLOWED[context].has(token.kind)) fail(where, `invalid ${context} token: '${untrusted}'`)
  return token
}

function serviceAndArgument(untrustedService: string, untrustedArgument: string, where: Where): [string | undefined, string | undefined] {
  const service = untrustedService === '*' ? undefined : untrustedService
  if (service !== undefined && (!RPC_NAME.test(service) || service.includes('+'))) fail(where, `service '${service}' contains invalid characters`)
  const argument = untrustedArgument === '*' ? undefined : untrustedArgument
  if (argument !== undefined) {
    if (!RPC_NAME.test(argument)) fail(where, `argument '${argument}' contains invalid characters`)
    if (!argument.startsWith('+')) fail(where, `argument '${argument}' does not start with +`)
    if (service === undefined) fail(where, 'only * argument allowed for * service')
  }
  return [service, argument]
}

function yesNo(key: string, value: string | undefined, fallback: boolean, where: Where): boolean {
  if (value === undefined) return fallback
  if (value !== 'yes' && value !== 'no') fail(where, `'${key}' is '${value}', but can be only 'yes' or 'no'`)
  return value === 'yes'
}

function actionOf(untrustedAction: string, untrustedParams: readonly string[], where: Where): PolicyAction {
  if (untrustedAction !== 'allow' && untrustedAction !== 'deny' && untrustedAction !== 'ask') fail(where, `invalid action: ${untrustedAction}`)
  const params = new Map<string, string>()
  for (const param of untrustedParams) {
    const eq = param.indexOf('=')
    if (eq <= 0) fail(where, `invalid action parameter syntax: '${param}'`)
    const key = param.slice(0, eq)
    if (params.has(key)) fail(where, `parameter given twice: '${key}'`)
    if (!PARAMS[untrustedAction].has(key)) fail(where, `invalid parameter for action ${untrustedAction}: '${param}'`)
    params.set(key, param.slice(eq + 1))
  }
  const redirect = (key: string) => {
    const value = params.get(key)
    return value === undefined ? undefined : parseToken(value, 'redirect', where)
  }
  const user = params.get('user')
  if (user !== undefined && !WORD.test(user)) fail(where, `invalid user: '${user}'`)
  switch (untrustedAction) {
    case 'deny':
      return { action: 'deny', notify: yesNo('notify', params.get('notify'), true, where) }
    case 'allow':
      return { action: 'allow', target: redirect('target'), user, notify: yesNo('notify', params.get('notify'), false, where), autostart: yesNo('autostart', params.get('autostart'), true, where) }
    case 'ask':
      return {
        action: 'ask',
        target: redirect('target'),
        defaultTarget: redirect('default_target'),
        user,
        notify: yesNo('notify', params.get('notify'), false, where),
        autostart: yesNo('autostart', params.get('autostart'), true, where),
      }
  }
}

function rule(untrustedService: string, untrustedArgument: string, fields: readonly string[], where: Where): PolicyRule {
  const [untrustedSource, untrustedTarget, untrustedAction, ...untrustedParams] = fields
  if (untrustedSource === undefined || untrustedTarget === undefined || untrustedAction === undefined) fail(where, 'wrong number of fields')
  const [service, argument] = serviceAndArgument(untrustedService, untrustedArgument, where)
  const source = parseToken(untrustedSource, 'source', where)
  const target = parseToken(untrustedTarget, 'target', where)
  const action = actionOf(untrustedAction, untrustedParams, where)
  if (target.kind === 'default' && action.action === 'allow' && action.target === undefined) {
    fail(where, 'allow action for @default rule must specify target= option')
  }
  return { where, service, argument, source, target, action }
}

/** A rule line of a policy file (not a comment, blank line or `!` directive). */
export function parseRuleLine(untrustedLine: string, where: Where): PolicyRule {
  const [untrustedService, untrustedArgument, ...rest] = untrustedLine.trim().split(/\s+/)
  if (untrustedService === undefined || untrustedArgument === undefined) fail(where, 'wrong number of fields')
  return rule(untrustedService, untrustedArgument, rest, where)
}

/**
 * A line of a file included with `!include-service SERVICE ARGUMENT FILE`: Qubes' old syntax,
 * `SOURCE TARGET ACTION[,PARAM=VALUE ...]`, with `$` for `@` (already substituted by the caller).
 */
export function parseServiceLine(untrustedService: string, untrustedArgument: string, untrustedLine: string, where: Where): PolicyRule {
  return rule(untrustedService, untrustedArgument, untrustedLine.trim().split(/\s+/), where)
}

/** `!include-service`'s service and argument, checked as a rule's are. */
export function checkServiceAndArgument(untrustedService: string, untrustedArgument: string, where: Where): void {
  serviceAndArgument(untrustedService, untrustedArgument, where)
}
