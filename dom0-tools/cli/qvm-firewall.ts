// qvm-firewall: Qubes' command, same syntax and output, on <qubes-dir>/appvms/VM/firewall.xml.
// The entry: the program, and what each action does. Its parts: qvm-firewall-options.ts (options
// after VMNAME), qvm-firewall-actions.ts (the action words), qvm-firewall-output.ts (what it writes),
// qvm-firewall-observe.ts (--hits, check, log: what the netvm's agent sees).
import { Command } from 'commander'

// the pushing code (DNS, transports) is loaded only by what pushes: listing stays quick
const pushing = () => import('../apply/push.js')
// and the code that asks an agent what it sees, only by what asks
const observing = () => import('./qvm-firewall-observe.js')
import { formatForwardTable } from '../forward/format.js'
import type { Domain } from '../registry/registry.js'
import { UsageError } from '../../common/errors.js'
import { loadRegistry } from '../registry/store.js'
import { nowEpoch } from '../../common/rule/model.js'
import { loadFirewall, loadRules, modifyFirewall, modifyRules } from '../store/firewall-store.js'
import { formatRuleTable, type Column, type Footer } from '../rule/format-table.js'
import { runProgram } from '../../common/cli/run.js'
import { qubesDirOption, resolveQubesDir } from './qubes-dir.js'
import { parseAction, parseForwardAction, type ForwardEdit, type RuleAction } from './qvm-firewall-actions.js'
import { takeTrailingOptions, type GlobalOptions } from './qvm-firewall-options.js'
import { formatRuleList, resolvedColumns } from './qvm-firewall-output.js'
import { pushAndReport, verbosityOptions } from './verbosity.js'

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

Asking the netvm's agent (through its socket: the netvm's feature
qubes-firewall-transport unix:PATH or exec:COMMAND, not qubesdb:):
    list --hits               the table with HITS (packets each rule counted,
                                IPv4 and IPv6 together) and LAST (when the
                                count last grew), and a row for the policy
    check DEST [PROTO [PORT]] which rule decides a packet from the VM to DEST
                                (an address; with icmp, PORT is the ICMP type)
                                and why: 'ACTION: REASON'
    log [--follow]            the VM's dropped packets, one a line; --follow
                                goes on printing new ones until interrupted
  e.g. qvm-firewall work check 192.0.2.10 tcp 22

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

async function qvmFirewallForward(vm: Domain, edit: ForwardEdit | undefined, qubesDir: string, opts: GlobalOptions): Promise<void> {
  if (edit === undefined) {
    process.stdout.write(formatForwardTable(loadFirewall(qubesDir, vm.name, nowEpoch()).forwards))
    return
  }
  await modifyFirewall(qubesDir, vm.name, nowEpoch, (config) => ({ ...config, forwards: edit(config.forwards) }))
  await pushAndReport('qvm-firewall', undefined, opts, async () => (await pushing()).applyForwards(vm.name, { qubesDir, registry: loadRegistry(qubesDir) }))
}

// everything this netvm serves, in one replace: for an agent that (re)started
async function qvmFirewallSync(netvmName: string, words: readonly string[], qubesDir: string, opts: GlobalOptions): Promise<void> {
  if (words.length > 0) throw new UsageError('--sync takes only the netvm name')
  await pushAndReport('qvm-firewall', undefined, opts, async () => (await pushing()).syncNetvm(netvmName, { qubesDir, registry: loadRegistry(qubesDir) }))
}

async function qvmFirewallList(vm: Domain, qubesDir: string, opts: GlobalOptions): Promise<void> {
  const rules = loadRules(qubesDir, vm.name, nowEpoch())
  if (!opts.resolved && !opts.hits) {
    process.stdout.write(formatRuleList(rules, nowEpoch(), opts.raw))
    return
  }
  if (opts.hits && opts.raw) throw new UsageError('--hits adds columns to the table: not with --raw')
  const columns: Column[] = []
  let footers: Footer[] = []
  if (opts.resolved) {
    const { resolvedInNetvm } = await pushing()
    const names = await resolvedInNetvm(vm.name, { qubesDir, registry: loadRegistry(qubesDir) })
    if (names === undefined) process.stderr.write(`qvm-firewall: warning: the agent of ${vm.netvm ?? 'no netvm'} could not be asked what names resolved to\n`)
    columns.push(...resolvedColumns(names, nowEpoch()))
  }
  if (opts.hits) {
    const hits = await (await observing()).hitsColumns(vm, loadRegistry(qubesDir))
    columns.push(...hits.columns)
    footers = hits.footers
  }
  process.stdout.write(formatRuleTable(rules, nowEpoch(), columns, footers))
}

// every change applies at once; the change is kept whatever the agent says
async function qvmFirewallApply(vm: Domain, qubesDir: string, opts: GlobalOptions): Promise<void> {
  await pushAndReport('qvm-firewall', vm.name, opts, async () => (await pushing()).applyVm(vm.name, { qubesDir, registry: loadRegistry(qubesDir) }))
}

export async function qvmFirewall(vmName: string | undefined, untrustedWords: readonly string[], opts: GlobalOptions, program: Command): Promise<void> {
  if (vmName === undefined) throw new UsageError('the following arguments are required: VMNAME')
  const words = takeTrailingOptions(untrustedWords, opts, program)
  const qubesDir = resolveQubesDir(opts)
  if (opts.sync) return qvmFirewallSync(vmName, words, qubesDir, opts)
  // the words are read before the VM is looked up, as argparse reads them: `nosuch add --help` helps
  const forward = words[0] === 'forward'
  const forwardEdit = forward ? parseForwardAction(words.slice(1), vmName) : undefined
  const action = forward ? undefined : parseAction(words, vmName)
  const vm = loadRegistry(qubesDir).require(vmName)
  if (vm.klass === 'AdminVM') throw new UsageError(`${vm.name} has no firewall`)
  if (action === undefined) return qvmFirewallForward(vm, forwardEdit, qubesDir, opts)
  await qvmFirewallRules(vm, action, qubesDir, opts)
}

async function qvmFirewallRules(vm: Domain, action: RuleAction, qubesDir: string, opts: GlobalOptions): Promise<void> {
  if (action.kind === 'check') return (await observing()).qvmFirewallCheck(vm, loadRegistry(qubesDir), action.probe)
  if (action.kind === 'log') return (await observing()).qvmFirewallLog(vm, loadRegistry(qubesDir), action.follow)
  if (action.kind === 'list') {
    await qvmFirewallList(vm, qubesDir, { ...opts, hits: opts.hits || action.hits })
    if (!opts.reload) return
  } else {
    await modifyRules(qubesDir, vm.name, nowEpoch, action.edit)
  }
  await qvmFirewallApply(vm, qubesDir, opts)
}

export function buildProgram(): Command {
  const program = new Command('qvm-firewall')
    .description('Manage VM outgoing connections firewall')
    .option('--raw', 'output rules as raw strings, instead of nice table')
    .option('--resolved', "list: add RESOLVED and REFRESHED columns, what each name stands for in the netvm's agent now and when DNS last answered")
    .option('--hits', "list: add HITS (packets) and LAST columns, what each rule counted in the netvm's agent")
    .option('-r, --reload', 'force reloading rules even when unchanged')
    .option('--sync', "push the rules of every VM using VMNAME as netvm to VMNAME's agent")
  return verbosityOptions(qubesDirOption(program))
    .argument('[VMNAME]', 'the qube whose firewall to show or change (with --sync: the netvm)')
    .argument('[action...]', 'list [--hits] | add [--before N] RULE... | del [--rule-no N | RULE...] | reset | check DEST [PROTO [PORT]] | log [--follow] | forward ...')
    .passThroughOptions()
    .addHelpText('after', EPILOG)
    .action((vmName: string | undefined, words: string[], opts: GlobalOptions, command: Command) => qvmFirewall(vmName, words, opts, command))
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
}
