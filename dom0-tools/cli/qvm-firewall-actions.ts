// qvm-firewall's action words, parsed into what they ask for: `list | add | del | reset` on the
// rules, `check | log` of the netvm's agent, `forward list | add | del` on the forwards (undefined
// is their listing).
import { Command, Option } from 'commander'
import { UsageError } from '../../common/errors.js'
import { nowEpoch, type EpochSeconds, type Rule } from '../../common/rule/model.js'
import { shown } from '../../common/untrusted-text.js'
import { addRule, deleteMatchingRule, deleteRuleNo, resetRules } from '../firewall/edit.js'
import type { Forward } from '../forward/model.js'
import { forwardFromOptions } from '../forward/parse.js'
import { parseProbe, type Probe } from '../observe/probe.js'
import { parseCliRule } from '../rule/parse.js'
import { isHelpWord } from './qvm-firewall-options.js'

export type Edit = (rules: Rule[]) => Rule[]
/** What the words after VMNAME ask for. */
export type RuleAction =
  | { readonly kind: 'list'; readonly hits: boolean }
  | { readonly kind: 'edit'; readonly edit: Edit }
  | { readonly kind: 'check'; readonly probe: Probe }
  | { readonly kind: 'log'; readonly follow: boolean }
export type ForwardEdit = (forwards: readonly Forward[]) => Forward[]

/** How one action's subcommand reads its words; it passes `set` the edit they ask for. */
type Configure<E> = (sub: Command, set: (edit: E) => void) => void

function parseRuleNo(untrusted: string): number {
  if (!/^-?[0-9]{1,9}$/.test(untrusted)) throw new UsageError(`invalid rule number '${shown(untrusted)}'`)
  return Number(untrusted)
}

/**
 * The command of an action's words (`add`, `forward add`) under `qvm-firewall VMNAME`: commander names
 * a command after its parents, so that `--help` shows `Usage: qvm-firewall work forward add ...`.
 */
function actionCommand(vmName: string, ...words: string[]): Command {
  return words.reduce((parent, word) => parent.command(word), new Command(`qvm-firewall ${vmName}`))
}

/** Parses `words` with `sub` as `configure` sets it up; errors come back as thrown, never printed. */
function parseWith<E>(sub: Command, words: readonly string[], configure: Configure<E>): E | undefined {
  let edit: E | undefined
  sub.exitOverride().configureOutput({ writeErr: () => {}, outputError: () => {} })
  configure(sub, (chosen) => {
    edit = chosen
  })
  sub.parse(words as string[], { from: 'user' })
  return edit
}

const listing = (what: string): Configure<never> => (sub) => {
  sub.description(what).action(() => {})
}

// the actions that change nothing
const READ_ACTIONS = new Map<string, Configure<RuleAction>>([
  ['list', (sub, set) => {
    sub
      .description('print the rules (--raw: one API string a line); the default')
      .option('--hits', "add HITS (packets) and LAST columns: what each rule counted in the netvm's agent")
      .action((o: { hits?: boolean }) => set({ kind: 'list', hits: o.hits === true }))
  }],
  ['check', (sub, set) => {
    sub
      .description("which rule decides a packet from the VM to DEST, and why (the netvm's agent says)")
      .argument('<dest>', 'an IPv4 or IPv6 address; its family picks the ip or ip6 of the VM')
      .argument('[proto]', 'tcp, udp or icmp')
      .argument('[port]', 'the port (tcp, udp) or the ICMP type (icmp)')
      .action((dest: string, proto?: string, port?: string) => set({ kind: 'check', probe: parseProbe(dest, proto, port) }))
  }],
  ['log', (sub, set) => {
    sub
      .description("the VM's dropped packets, as the netvm's agent logged them")
      .option('--follow', 'go on printing drops as they come, until interrupted')
      .action((o: { follow?: boolean }) => set({ kind: 'log', follow: o.follow === true }))
  }],
])

function ruleActions(now: EpochSeconds): Map<string, Configure<RuleAction>> {
  const edits = new Map<string, Configure<Edit>>([
    ['reset', (sub, set) => sub.description('restore the default: one rule, action=accept').action(() => set(() => resetRules()))],
    ['add', (sub, set) => {
      sub
        .description('append a rule, or insert it before rule N')
        .addOption(new Option('--before <n>', 'add rule before rule with given number, instead of at the end'))
        .argument('<rule...>')
        .action((words: string[], opts: { before?: string }) => {
          const rule = parseCliRule(words, { now })
          const before = opts.before === undefined ? undefined : parseRuleNo(opts.before)
          set((rules) => addRule(rules, rule, before))
        })
    }],
    ['del', (sub, set) => {
      sub
        .description('remove rule N, or the first rule equal to RULE')
        .addOption(new Option('--rule-no <n>', 'rule number'))
        .argument('[rule...]')
        .action((words: string[], opts: { ruleNo?: string }) => {
          if (opts.ruleNo !== undefined && words.length > 0) throw new UsageError('del takes --rule-no N or a rule, not both')
          if (opts.ruleNo !== undefined) {
            const ruleNo = parseRuleNo(opts.ruleNo)
            set((rules) => deleteRuleNo(rules, ruleNo))
          } else if (words.length > 0) {
            const rule = parseCliRule(words, { now })
            set((rules) => deleteMatchingRule(rules, rule))
          } else {
            throw new UsageError('del needs --rule-no N or a rule')
          }
        })
    }],
  ])
  const asAction = (configure: Configure<Edit>): Configure<RuleAction> => (sub, set) => configure(sub, (edit) => set({ kind: 'edit', edit }))
  return new Map([...READ_ACTIONS, ...[...edits].map(([name, configure]) => [name, asAction(configure)] as const)])
}

/** Turns the words after VMNAME into what they ask for (`list` when none). */
export function parseAction(untrustedWords: readonly string[], vmName = 'VMNAME'): RuleAction {
  const [command = 'list', ...rest] = untrustedWords
  const configure = ruleActions(nowEpoch()).get(command)
  if (configure === undefined) throw new UsageError(`invalid action '${shown(command)}' (choose from list, add, del, reset, forward, check, log)`)
  return parseWith(actionCommand(vmName, command), rest, configure) ?? { kind: 'list', hits: false }
}

const FORWARD_ACTIONS = new Map<string, Configure<ForwardEdit>>([
  ['list', listing("print the VM's forwards; the default")],
  ['add', (sub, set) => {
    sub
      .description("open the VM's PORT on the outermost netvm's upstream side")
      .argument('<proto>', 'tcp or udp')
      .argument('<port>', "the VM's port")
      .option('--outside-port <port>', 'the port on the outermost netvm (default: PORT)')
      .option('--from <network>', 'only from NETWORK; an IPv4 one limits the forward to IPv4, an IPv6 one to IPv6')
      .option('--iface <name>', 'only on the interface NAME')
      .action((proto: string, port: string, o: { outsidePort?: string; from?: string; iface?: string }) => {
        const forward = forwardFromOptions({ proto, port, ...o })
        set((forwards) => [...forwards, forward])
      })
  }],
  ['del', (sub, set) => {
    sub.description('remove forward N').argument('<n>').action((n: string) => {
      const index = parseRuleNo(n)
      set((forwards) => {
        if (index < 0 || index >= forwards.length) throw new UsageError(`forward number ${index} out of range (the VM has ${forwards.length} forwards)`)
        return forwards.filter((_, i) => i !== index)
      })
    })
  }],
])

/** `qvm-firewall VMNAME forward`, for its help: what it does, and its actions with their usage. */
function forwardCommand(vmName: string): Command {
  const forward = actionCommand(vmName, 'forward')
    .description('port forwarding from the outside world, through every netvm on the way out')
    .helpCommand(false)
    .exitOverride()
  for (const [name, configure] of FORWARD_ACTIONS) configure(forward.command(name), () => {})
  return forward
}

/** `forward [list] | forward add PROTO PORT [--outside-port N] [--from NET] [--iface IF] | forward del N`. */
export function parseForwardAction(untrustedWords: readonly string[], vmName = 'VMNAME'): ForwardEdit | undefined {
  const [command = 'list', ...rest] = untrustedWords
  const configure = FORWARD_ACTIONS.get(command)
  if (configure === undefined) {
    // help is the one option `forward` takes before its action
    const forward = forwardCommand(vmName)
    if (isHelpWord(forward, command)) forward.help()
    throw new UsageError(`invalid forward action '${shown(command)}' (choose from list, add, del)`)
  }
  return parseWith(actionCommand(vmName, 'forward', command), rest, configure)
}
