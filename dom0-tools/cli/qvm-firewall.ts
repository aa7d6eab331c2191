// qvm-firewall: Qubes' command, same syntax and output, on <qubes-dir>/appvms/VM/firewall.xml.
import { Command, Option } from 'commander'
import { describeOutcome, type NetvmOutcome } from '../apply/outcome.js'

// the pushing code (DNS, transports) is loaded only by what pushes: listing stays quick
const pushing = () => import('../apply/push.js')
import { formatForwardTable } from '../forward/format.js'
import type { Forward } from '../forward/model.js'
import { forwardFromOptions } from '../forward/parse.js'
import type { Domain } from '../registry/registry.js'
import { UsageError } from '../../common/errors.js'
import { shown } from '../../common/untrusted-text.js'
import { addRule, deleteMatchingRule, deleteRuleNo, resetRules } from '../firewall/edit.js'
import { loadRegistry } from '../registry/store.js'
import { formatRawRule } from '../rule/format-raw.js'
import { formatRuleTable } from '../rule/format-table.js'
import { nowEpoch, type Rule } from '../../common/rule/model.js'
import { parseCliRule } from '../rule/parse.js'
import { loadFirewall, loadRules, modifyFirewall, modifyRules } from '../store/firewall-store.js'
import { runProgram } from '../../common/cli/run.js'
import { qubesDirOption, resolveQubesDir } from './qubes-dir.js'

export const EPILOG = `
Rules can be given as positional arguments:
    <action> [<dsthost> [<proto> [<dstports>|<icmptype>]]]

And as keyword arguments:
    action=<action> [specialtarget=dns] [dsthost=<dsthost>]
    [proto=<proto>] [dstports=<dstports>] [icmptype=<icmptype>]
    [expire=<expire>] [comment=<comment>]

Both formats, positional and keyword arguments, can be used
interchangeably.

Available rules:
    action:        accept or drop
    dst4           synonym for dsthost
    dst6           synonym for dsthost
    dsthost        IP, network or hostname
                     (e.g. 10.5.3.2, 192.168.0.0/16,
                     www.example.com, fd00::/8)
    dstports       port or port range
                     (e.g. 443 or 1200-1400)
    icmptype       icmp type number (e.g. 8 for echo requests)
    proto          icmp, tcp or udp
    specialtarget  only the value dns is currently supported,
                     it matches the configured dns servers of
                     a VM
    expire         a rule is automatically removed at given time, given as
                     seconds since 1/1/1970, or +seconds (e.g. +300 for rule
                     expire in 5 minutes)
    comment        a note for people; may contain spaces, given as one word
                     (e.g. 'comment=Allow LAN')

Actions:
    list (default)            print the rules (--raw: one API string a line)
    add [--before N] RULE     append a rule, or insert it before rule N
    del --rule-no N | RULE    remove rule N, or the first rule equal to RULE
    reset                     restore the default: one rule, action=accept

A VM keeps at least one rule: to block everything, add 'drop' first,
then delete the rest. Rules not matched are dropped.

Port forwarding from the outside world (through every netvm on the way out):
    forward [list]                           print the VM's forwards
    forward add tcp|udp PORT [--outside-port N] [--from NETWORK] [--iface NAME]
                                             open the VM's PORT on the outermost
                                             netvm's upstream side (port N there;
                                             only from NETWORK; only on interface
                                             NAME); an IPv4 NETWORK limits it to
                                             IPv4, an IPv6 one to IPv6
    forward del N                            remove forward N
  e.g. qvm-firewall work forward add tcp 443 --outside-port 8443 --from 192.0.2.0/24
`

interface GlobalOptions {
  raw?: boolean
  resolved?: boolean
  reload?: boolean
  sync?: boolean
  quiet?: boolean
  verbose?: boolean
  qubesDir?: string
}

/**
 * Options after VMNAME, before the action's own words (`qvm-firewall work --raw list`), as Qubes'
 * argparse takes them: read with the program's own option list and taken off `words` into `opts`.
 */
export function takeTrailingOptions(untrustedWords: readonly string[], opts: GlobalOptions, options: readonly Option[]): string[] {
  const words = [...untrustedWords]
  while (words[0]?.startsWith('-')) {
    const word = words.shift() as string
    const unrecognized = new UsageError(`unrecognized arguments: ${shown(word)}`)
    const equals = word.startsWith('--') ? word.indexOf('=') : -1
    const [name, inline] = equals > 0 ? [word.slice(0, equals), word.slice(equals + 1)] : [word, undefined]
    const option = options.find((o) => (o.long === name || o.short === name) && o.long !== '--version')
    if (option === undefined) throw unrecognized
    const takesValue = option.required || option.optional
    const value = takesValue ? (inline ?? words.shift()) : inline === undefined ? true : undefined
    if (value === undefined) throw unrecognized
    ;(opts as Record<string, unknown>)[option.attributeName()] = value
  }
  return words
}

type Edit = (rules: Rule[]) => Rule[]

function parseRuleNo(untrusted: string): number {
  if (!/^-?[0-9]{1,9}$/.test(untrusted)) throw new UsageError(`invalid rule number '${shown(untrusted)}'`)
  return Number(untrusted)
}

/** Turns the words after VMNAME into the edit they ask for, or undefined for `list`. */
export function parseAction(untrustedWords: readonly string[], vmName = 'VMNAME'): Edit | undefined {
  const [command = 'list', ...rest] = untrustedWords
  const now = nowEpoch()
  // named as the user typed it, so that `add --help` shows `qvm-firewall work add ...`
  const sub = new Command(`qvm-firewall ${vmName} ${command}`).exitOverride().configureOutput({ writeErr: () => {}, outputError: () => {} })
  let edit: Edit | undefined
  switch (command) {
    case 'list':
      sub.action(() => {
        edit = undefined
      })
      break
    case 'reset':
      sub.action(() => {
        edit = () => resetRules()
      })
      break
    case 'add':
      sub
        .addOption(new Option('--before <n>', 'add rule before rule with given number, instead of at the end'))
        .argument('<rule...>')
        .action((words: string[], opts: { before?: string }) => {
          const rule = parseCliRule(words, { now })
          const before = opts.before === undefined ? undefined : parseRuleNo(opts.before)
          edit = (rules) => addRule(rules, rule, before)
        })
      break
    case 'del':
      sub
        .addOption(new Option('--rule-no <n>', 'rule number'))
        .argument('[rule...]')
        .action((words: string[], opts: { ruleNo?: string }) => {
          if (opts.ruleNo !== undefined && words.length > 0) throw new UsageError('del takes --rule-no N or a rule, not both')
          if (opts.ruleNo !== undefined) {
            const ruleNo = parseRuleNo(opts.ruleNo)
            edit = (rules) => deleteRuleNo(rules, ruleNo)
          } else if (words.length > 0) {
            const rule = parseCliRule(words, { now })
            edit = (rules) => deleteMatchingRule(rules, rule)
          } else {
            throw new UsageError('del needs --rule-no N or a rule')
          }
        })
      break
    default:
      throw new UsageError(`invalid action '${shown(command)}' (choose from list, add, del, reset, forward)`)
  }
  sub.parse(rest as string[], { from: 'user' })
  return edit
}

/**
 * Reports an apply on stderr (stdout carries only what was asked for): a status line unless
 * --quiet, a warning for an unreachable agent, an error (exit 1) for a refusal.
 */
function reportOutcome(vm: string | undefined, outcome: NetvmOutcome | undefined, opts: GlobalOptions = {}): void {
  if (outcome === undefined || outcome.status === 'unmanaged') return
  const line = describeOutcome(vm, outcome)
  if (outcome.status === 'applied') {
    if (!opts.quiet) process.stderr.write(`${line}\n`)
  } else if (outcome.status === 'unreachable') process.stderr.write(`qvm-firewall: ${line}\n`)
  else throw new UsageError(line)
}

type ForwardEdit = (forwards: readonly Forward[]) => Forward[]

/** `forward [list] | forward add PROTO PORT [--outside-port N] [--from NET] [--iface IF] | forward del N`. */
export function parseForwardAction(untrustedWords: readonly string[]): ForwardEdit | undefined {
  const [command = 'list', ...rest] = untrustedWords
  const sub = new Command(`forward ${command}`).exitOverride().configureOutput({ writeErr: () => {}, outputError: () => {} })
  let edit: ForwardEdit | undefined
  if (command === 'list') {
    sub.action(() => {
      edit = undefined
    })
  } else if (command === 'add') {
    sub
      .argument('<proto>')
      .argument('<port>')
      .option('--outside-port <port>')
      .option('--from <network>')
      .option('--iface <name>')
      .action((proto: string, port: string, o: { outsidePort?: string; from?: string; iface?: string }) => {
        const forward = forwardFromOptions({ proto, port, ...o })
        edit = (forwards) => [...forwards, forward]
      })
  } else if (command === 'del') {
    sub.argument('<n>').action((n: string) => {
      const index = parseRuleNo(n)
      edit = (forwards) => {
        if (index < 0 || index >= forwards.length) throw new UsageError(`forward number ${index} out of range (the VM has ${forwards.length} forwards)`)
        return forwards.filter((_, i) => i !== index)
      }
    })
  } else {
    throw new UsageError(`invalid forward action '${shown(command)}' (choose from list, add, del)`)
  }
  sub.parse(rest as string[], { from: 'user' })
  return edit
}

async function qvmFirewallForward(vm: Domain, words: readonly string[], qubesDir: string, opts: GlobalOptions): Promise<void> {
  const edit = parseForwardAction(words)
  if (edit === undefined) {
    process.stdout.write(formatForwardTable(loadFirewall(qubesDir, vm.name, nowEpoch()).forwards))
    return
  }
  await modifyFirewall(qubesDir, vm.name, nowEpoch, (config) => ({ ...config, forwards: edit(config.forwards) }))
  const { applyForwards } = await pushing()
  for (const outcome of await applyForwards(vm.name, { qubesDir, registry: loadRegistry(qubesDir) })) reportOutcome(undefined, outcome, opts)
}

export async function qvmFirewall(vmName: string | undefined, untrustedWords: readonly string[], opts: GlobalOptions, options: readonly Option[] = []): Promise<void> {
  if (vmName === undefined) throw new UsageError('the following arguments are required: VMNAME')
  const words = takeTrailingOptions(untrustedWords, opts, options)
  const qubesDir = resolveQubesDir(opts)
  if (opts.sync) {
    // everything this netvm serves, in one replace: for an agent that (re)started
    if (words.length > 0) throw new UsageError('--sync takes only the netvm name')
    const { syncNetvm } = await pushing()
    reportOutcome(undefined, await syncNetvm(vmName, { qubesDir, registry: loadRegistry(qubesDir) }), opts)
    return
  }
  const vm = loadRegistry(qubesDir).require(vmName)
  if (vm.klass === 'AdminVM') throw new UsageError(`${vm.name} has no firewall`)
  if (words[0] === 'forward') return qvmFirewallForward(vm, words.slice(1), qubesDir, opts)
  const edit = parseAction(words, vm.name)
  if (edit === undefined) {
    const rules = loadRules(qubesDir, vm.name, nowEpoch())
    if (opts.resolved) {
      const { resolvedInNetvm } = await pushing()
      const names = await resolvedInNetvm(vm.name, { qubesDir, registry: loadRegistry(qubesDir) })
      if (names === undefined) process.stderr.write(`qvm-firewall: warning: the agent of ${vm.netvm ?? 'no netvm'} could not be asked what names resolved to\n`)
      const column = (rule: Rule) => (rule.dsthost?.kind === 'name' ? names?.get(rule.dsthost.name) ?? '?' : '-')
      process.stdout.write(formatRuleTable(rules, nowEpoch(), { header: 'RESOLVED', cell: column }))
    } else {
      process.stdout.write(opts.raw ? rules.map((r) => formatRawRule(r) + '\n').join('') : formatRuleTable(rules, nowEpoch()))
    }
    if (!opts.reload) return
  } else {
    await modifyRules(qubesDir, vm.name, nowEpoch, edit)
  }
  // every change applies at once; the change is kept whatever the agent says
  const started = Date.now()
  const { applyVm } = await pushing()
  const outcome = await applyVm(vm.name, { qubesDir, registry: loadRegistry(qubesDir) })
  if (opts.verbose && outcome !== undefined) process.stderr.write(`qvm-firewall: ${vm.name}: pushed to ${outcome.netvm}, answered in ${Date.now() - started} ms\n`)
  reportOutcome(vm.name, outcome, opts)
}

export function buildProgram(): Command {
  return qubesDirOption(new Command('qvm-firewall'))
    .description('Manage VM outgoing connections firewall')
    .option('--raw', 'output rules as raw strings, instead of nice table')
    .option('--resolved', "list: add a RESOLVED column, what each name stands for in the netvm's agent now")
    .option('-r, --reload', 'force reloading rules even when unchanged')
    .option('--sync', "push the rules of every VM using VMNAME as netvm to VMNAME's agent")
    .option('-q, --quiet', 'no status line after a change (errors and warnings still show)')
    .option('-v, --verbose', 'say where each change was pushed and how long the answer took')
    .argument('[VMNAME]', 'the qube whose firewall to show or change (with --sync: the netvm)')
    .argument('[action...]', 'list | add [--before N] RULE... | del [--rule-no N | RULE...] | reset | forward ...')
    .passThroughOptions()
    .addHelpText('after', EPILOG)
    .action((vmName: string | undefined, words: string[], opts: GlobalOptions, command: Command) => qvmFirewall(vmName, words, opts, command.options))
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
}
