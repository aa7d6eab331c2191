// qubes-firewall-agent {render|apply|init|connect|serve|log|hits|check}: options and subcommands; what each
// does is in commands.ts, loaded only when one runs.
import { Command, InvalidArgumentError, Option } from 'commander'
import { exitWhenFlushed, runProgram } from '../common/cli/run.js'
import { shown } from '../common/untrusted-text.js'
import { DEFAULT_REFRESH } from './names/name-state.js'
import type { AgentOptions } from './options.js'

type Subcommand = 'render' | 'apply' | 'init' | 'connect' | 'serve' | 'log' | 'hits' | 'check'

const SUBCOMMANDS: readonly [string, string][] = [
  ['render', 'print the nft transaction (native nft syntax) that apply would load for the push on stdin'],
  ['apply', 'load the push on stdin into nftables in this network namespace'],
  ['init', 'create the base tables (if missing) and the agent chains, blocking every VM until rules come'],
  ['connect', "join stdin/stdout to the daemon's socket: the far end of dom0's exec: transports (qrexec, ssh)"],
  ['serve', "the daemon: restore the last rules, run the hooks, then take pushes on the socket (and QubesDB's, with --source qubesdb)"],
  ['log', "the daemon's drop log: packets the VMs' rules rejected, with VM and rule number (rate-limited: 10/s per VM, burst 20)"],
  ['hits <vm-ip>', "a VM's hit counts per rule and for its policy, with when each count last grew"],
  ['check <vm-ip> <dest> [proto] [port]', 'which rule decides a packet from the VM to DEST (PORT, or the ICMP type for icmp), and why'],
]

/** One-shot commands that hold a whole push: they end without node's teardown of that heap. */
const LARGE_ONE_SHOTS: ReadonlySet<Subcommand> = new Set(['render', 'apply'])

export function buildProgram(): Command {
  const program = new Command('qubes-firewall-agent')
    .description('Enforce dom0-pushed per-VM firewall rules with nftables')
    .option('--rw-dir <dir>', 'persistent config dir with qubes-firewall-user-script, qubes-firewall.d/', '/rw/config')
    .option('--resolv-conf <file>', 'nameservers for specialtarget=dns and name resolution', '/etc/resolv.conf')
    .option('--state-dir <dir>', 'where the last good push is kept', '/var/lib/qubes-firewall')
    .option('--socket <path>', 'the daemon socket', '/run/qubes-firewall/agent.sock')
    .option('--force', 'create the base table even on a host that looks like neither a firewall VM nor a network namespace')
  for (const [usage, description] of SUBCOMMANDS) {
    const name = usage.split(' ')[0] as Subcommand
    const command = program
      .command(usage)
      .description(description)
      .action(async (...args: unknown[]) => {
        // commander passes the arguments, then the command's own options
        const own = args[args.length - 2] as Record<string, unknown>
        const [vmIp, dest, proto, port] = args.slice(0, -2) as (string | undefined)[]
        const positional = { ...(vmIp !== undefined && { vmIp }), ...(dest !== undefined && { dest }), ...(proto !== undefined && { proto }), ...(port !== undefined && { port }) }
        const commands = await import('./commands.js')
        await (commands[name] as (opts: object) => Promise<void>)({ ...program.opts<AgentOptions>(), ...own, ...positional })
        if (LARGE_ONE_SHOTS.has(name)) exitWhenFlushed()
      })
    if (name === 'serve') {
      command.addOption(new Option('--source <source>', "also take the rules Qubes' dom0 writes into this VM's QubesDB").choices(['socket', 'qubesdb']).default('socket'))
      command
        .option('--refresh-min-ttl <seconds>', 'ask DNS again for a name after its TTL, but not sooner than this', seconds, DEFAULT_REFRESH.minTtl)
        .option('--refresh-max-ttl <seconds>', 'and not later than this', seconds, DEFAULT_REFRESH.maxTtl)
        .option('--grace <seconds>', 'an address gone from the answer (or every address, when DNS fails) matches max(TTL, this) longer', seconds, DEFAULT_REFRESH.graceFloor)
    }
    if (name === 'log') command.option('--follow', 'go on printing drops as they come').option('--vm <ip>', "only this VM's drops")
  }
  return program
}

/** A whole number of seconds, 1 to a week. */
function seconds(untrustedValue: string): number {
  const value = /^[0-9]{1,7}$/.test(untrustedValue) ? Number(untrustedValue) : NaN
  if (!(value >= 1 && value <= 604_800)) throw new InvalidArgumentError(`'${shown(untrustedValue)}' is not a number of seconds (1-604800)`)
  return value
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
}
