// qubes-firewall-agent {render|apply|init|serve}
import { Command, Option } from 'commander'
import { runProgram } from '../common/cli/run.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../common/untrusted-text.js'
import { Agent, type AgentEffects } from './agent.js'
import { realEffects } from './effects.js'
import type { AgentOptions } from './options.js'
import { PushError } from './errors.js'
import { ordinaryHostReason } from './host-check.js'
import { listNft } from './nft/run.js'
import { parsePush } from './push/parse.js'
import { readStdin } from './stdin.js'
import { failureLine } from './failure-line.js'


async function readPushFromStdin(): Promise<ReturnType<typeof parsePush>> {
  const untrustedText = await readStdin()
  let untrustedPush: unknown
  try {
    untrustedPush = JSON.parse(untrustedText)
  } catch (err) {
    throw new PushError(`input is not JSON: ${shown((err as Error).message, UNTRUSTED_KEY_LIMIT)}`)
  }
  return parsePush(untrustedPush)
}

/** Refuses to create Qubes' base table (input policy drop) on what looks like an ordinary host, unless --force. */
async function checkHost(force: boolean | undefined): Promise<void> {
  const reason = force ? undefined : ordinaryHostReason()
  if (reason === undefined) return
  const missing = []
  for (const family of ['ip', 'ip6']) if ((await listNft(['chain', family, 'qubes', 'custom-forward'])) === undefined) missing.push(family)
  if (missing.length === 0) return
  throw new Error(
    `refusing to create table ${missing.join('/')} qubes here: its input chain drops all but established traffic and would cut this host off (ssh included); ${reason}. Run the agent in a firewall VM or a network namespace, or pass --force`,
  )
}

/** Prints one line per failure, naming the VM (and rule, and name); exit 1 if any. */
function report(result: Awaited<ReturnType<Agent['replace']>>): void {
  for (const f of result.failed) {
    process.stderr.write(`qubes-firewall-agent: ${failureLine(f)}\n`)
  }
  if (!result.ok) process.exitCode = 1
}

export function buildProgram(): Command {
  const program = new Command('qubes-firewall-agent')
    .description('Enforce dom0-pushed per-VM firewall rules with nftables')
    .option('--rw-dir <dir>', 'persistent config dir with qubes-firewall-user-script, qubes-firewall.d/', '/rw/config')
    .option('--resolv-conf <file>', 'nameservers for specialtarget=dns and name resolution', '/etc/resolv.conf')
    .option('--state-dir <dir>', 'where the last good push is kept', '/var/lib/qubes-firewall')
    .option('--socket <path>', 'the daemon socket', '/run/qubes-firewall/agent.sock')
    .option('--force', 'create the base table even on a host that looks like neither a firewall VM nor a network namespace')
  const opts = () => program.opts<AgentOptions>()

  program
    .command('render')
    .description('print the nft transaction (native nft syntax) that apply would load for the push on stdin')
    .action(async () => {
      const push = await readPushFromStdin()
      // planned for a namespace where nothing exists yet; the kernel is neither read nor changed
      const fx: AgentEffects = { ...realEffects(opts().resolvConf), runNft: async () => {}, listNft: async () => undefined }
      process.stdout.write(await new Agent(fx).render(push))
    })

  program
    .command('apply')
    .description('load the push on stdin into nftables in this network namespace')
    .action(async () => {
      const push = await readPushFromStdin()
      await checkHost(opts().force)
      const result = await new Agent(realEffects(opts().resolvConf)).replace(push)
      report(result)
      if (result.ok) process.stdout.write(`qubes-firewall-agent: applied rules of ${result.applied.length} VM(s)\n`)
    })

  program
    .command('init')
    .description('create the base tables (if missing) and the agent chains, blocking every VM until rules come')
    .action(async () => {
      await checkHost(opts().force)
      report(await new Agent(realEffects(opts().resolvConf)).replace({ vms: new Map(), ignored: [] }))
    })

  program
    .command('connect')
    .description("join stdin/stdout to the daemon's socket: the far end of dom0's exec: transports (qrexec, ssh)")
    .action(async () => {
      const { connect } = await import('node:net')
      await new Promise<void>((resolve, reject) => {
        const socket = connect(opts().socket)
        socket.on('error', reject)
        socket.on('connect', () => process.stdin.pipe(socket))
        socket.pipe(process.stdout)
        socket.on('close', () => resolve())
      })
    })

  program
    .command('serve')
    .description('the daemon: restore the last rules, run the hooks, then take pushes on the socket (and QubesDB\'s, with --source qubesdb)')
    .addOption(new Option('--source <source>', "also take the rules Qubes' dom0 writes into this VM's QubesDB").choices(['socket', 'qubesdb']).default('socket'))
    .action(async (serveOptions: Pick<AgentOptions, 'source'>) => {
      await checkHost(opts().force)
      const { serve } = await import('./serve.js')
      await serve({ ...opts(), ...serveOptions })
    })
  return program
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
}
