// Qubes 4.2 qrexec policy (/etc/qubes/policy.d/*.policy) as typed values: what a line says once
// it parsed, what a call asks for, and what the policy answers.

/** Where a rule (or an error) is: the file and its 1-based line. */
export interface Where {
  readonly file: string
  readonly line: number
}

/**
 * A qube specification, as Qubes' parser knows them (qrexec/policy/parser.py). Which may stand
 * where (source, target column, target=) is checked by the parser.
 */
export type VmToken =
  /** `*`: anything, dom0 included */
  | { readonly kind: 'wildcard' }
  /** `@anyvm`: anything but dom0 */
  | { readonly kind: 'anyvm' }
  /** `@adminvm` (or `dom0`) */
  | { readonly kind: 'adminvm' }
  /** `@default`: the caller named no target */
  | { readonly kind: 'default' }
  /** `@dispvm`: a new disposable of the caller's default_dispvm */
  | { readonly kind: 'dispvm' }
  /** `@dispvm:NAME`: a new disposable of NAME */
  | { readonly kind: 'dispvm-template'; readonly name: string }
  /** `@dispvm:@tag:TAG`: a new disposable of a template for disposables tagged TAG */
  | { readonly kind: 'dispvm-tag'; readonly tag: string }
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'type'; readonly type: string }
  | { readonly kind: 'name'; readonly name: string }

export type PolicyAction =
  | { readonly action: 'allow'; readonly target: VmToken | undefined; readonly user: string | undefined; readonly notify: boolean; readonly autostart: boolean }
  | { readonly action: 'deny'; readonly notify: boolean }
  | {
      readonly action: 'ask'
      readonly target: VmToken | undefined
      readonly defaultTarget: VmToken | undefined
      readonly user: string | undefined
      readonly notify: boolean
      readonly autostart: boolean
    }

export interface PolicyRule {
  readonly where: Where
  /** undefined: `*`, any service */
  readonly service: string | undefined
  /** with its `+` (`+445`, `+` for none); undefined: `*`, any argument */
  readonly argument: string | undefined
  readonly source: VmToken
  readonly target: VmToken
  readonly action: PolicyAction
}

export interface Policy {
  /** in evaluation order: files in C-locale order, includes in place */
  readonly rules: readonly PolicyRule[]
  /** what was read but not applied, for the user (e.g. `!compat-4.0`) */
  readonly notes: readonly string[]
}

/** A policy that does not load denies every call, as Qubes' does; this says where and why. */
export class PolicyError extends Error {
  override name = 'PolicyError'
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`)
  }
}

/** What Qubes' policy knows of each domain (qrexec.utils.get_system_info(), reduced). */
export interface DomainInfo {
  /** the class: AdminVM, AppVM, TemplateVM, StandaloneVM, DispVM */
  readonly type: string
  readonly tags: readonly string[]
  readonly templateForDispvms: boolean
  readonly defaultDispvm: string | undefined
}

export interface SystemInfo {
  /** by name; dom0 included */
  readonly domains: ReadonlyMap<string, DomainInfo>
}

/** A call as qrexec-client-vm makes it: `qrexec-client-vm TARGET SERVICE+ARGUMENT` from SOURCE. */
export interface PolicyRequest {
  readonly service: string
  /** `+445`; `+` when the call has none */
  readonly argument: string
  readonly source: string
  /** as the caller wrote it: a name, `@default` (or ''), `dom0`, `@dispvm`, `@dispvm:NAME` */
  readonly target: string
}

export type Resolution =
  | { readonly verdict: 'allow'; readonly target: string; readonly user: string | undefined; readonly rule: Where }
  | { readonly verdict: 'deny'; readonly reason: string; readonly rule: Where | undefined }
