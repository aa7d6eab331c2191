// qubes-firewall-agent {render|apply|init|connect|serve}: the options and subcommands; what each
// does is in commands.ts, loaded only when one runs.
import { Command, Option } from 'commander'
import { runProgram } from '../common/cli/run.js'
import type { AgentOptions } from './options.js'

type Subcommand = 'render' | 'apply' | 'init' | 'connect' | 'serve'

const SUBCOMMANDS: readonly [Subcommand, string][] = [
  ['render', 'print the nft transaction (native nft syntax) that apply would load for the push on stdin'],
  ['apply', 'load the push on stdin into nftables in this network namespace'],
  ['init', 'create the base tables (if missing) and the agent chains, blocking every VM until rules come'],
  ['connect', "join stdin/stdout to the daemon's socket: the far end of dom0's exec: transports (qrexec, ssh)"],
  ['serve', "the daemon: restore the last rules, run the hooks, then take pushes on the socket (and QubesDB's, with --source qubesdb)"],
]

export function buildProgram(): Command {
  const program = new Command('qubes-firewall-agent')
    .description('Enforce dom0-pushed per-VM firewall rules with nftables')
    .option('--rw-dir <dir>', 'persistent config dir with qubes-firewall-user-script, qubes-firewall.d/', '/rw/config')
    .option('--resolv-conf <file>', 'nameservers for specialtarget=dns and name resolution', '/etc/resolv.conf')
    .option('--state-dir <dir>', 'where the last good push is kept', '/var/lib/qubes-firewall')
    .option('--socket <path>', 'the daemon socket', '/run/qubes-firewall/agent.sock')
    .option('--force', 'create the base table even on a host that looks like neither a firewall VM nor a network namespace')
  for (const [name, description] of SUBCOMMANDS) {
    const command = program
      .command(name)
      .description(description)
      .action(async (own: Partial<AgentOptions>) => {
        const commands = await import('./commands.js')
        await commands[name]({ ...program.opts<AgentOptions>(), ...own })
      })
    if (name === 'serve') {
      command.addOption(new Option('--source <source>', "also take the rules Qubes' dom0 writes into this VM's QubesDB").choices(['socket', 'qubesdb']).default('socket'))
    }
  }
  return program
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
}
