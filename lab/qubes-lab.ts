// qubes-lab [up|down|status|matrix]: a Qubes network in network namespaces on this machine,
// with the real agents in sys-net and sys-firewall and dom0's state in /run/qubes-lab/qubes.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, Option } from 'commander'
import { changeRegistry } from '../dom0-tools/apply/follow.js'
import { RESOLVE_PROPERTY, describeOutcome, syncNetvm } from '../dom0-tools/apply/push.js'
import { TRANSPORT_FEATURE } from '../dom0-tools/apply/transport.js'
import { runProgram } from '../common/cli/run.js'
import { loadRegistry, modifyRegistry } from '../dom0-tools/registry/store.js'
import { firewallXmlPath } from '../dom0-tools/store/firewall-store.js'
import { formatMatrix, probeMatrix } from './matrix.js'
import { LAB_NAMESPACES, buildNetwork, connectQube, disconnectQube, dnatDnsScript, removeNetwork } from './network.js'
import { alive, daemonPids, logPath, namespaces, nsExec, startDaemon, stopDaemons, waitFor } from './system.js'
import { LAB_DIR, NETVMS, OUTSIDE, QUBES, QUBES_DIR, ip4, nsOf, qidOf, socketPath } from './topology.js'
import { shown } from '../common/untrusted-text.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..', '..')
const AGENT = join(HERE, '..', 'netvm-agent', 'bin', 'qubes-firewall-agent.js')
const WORLD_SERVER = join(HERE, 'world-server.js')
const EXAMPLES = join(ROOT, 'examples', 'lab')
/** The lab's stand-in of the qubesdb-cmd tools, and where each qube's QubesDB lives. */
const QUBESDB_BIN = join(ROOT, 'lab', 'qubesdb-bin')
const QUBESDB_DIR = join(LAB_DIR, 'qubesdb')
/** Where the lab's sys-firewall takes its rules from: its socket, or its QubesDB as on Qubes. */
type Source = 'socket' | 'qubesdb'
const SOURCE_FILE = join(LAB_DIR, 'source')
const QUBESDB_NETVM = 'sys-firewall'

function labSource(): Source {
  return existsSync(SOURCE_FILE) && readFileSync(SOURCE_FILE, 'utf8').trim() === 'qubesdb' ? 'qubesdb' : 'socket'
}

/** dom0's qubesdb-write & co. (on Qubes in dom0's PATH): the stand-in's, for this process and its children. */
function withQubesDbTools(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, PATH: `${QUBESDB_BIN}:${env['PATH'] ?? '/usr/bin:/bin'}` }
}

const tty = process.stdout.isTTY === true
function step(message: string): void {
  process.stdout.write(tty ? `\x1b[2K\r\x1b[36m…\x1b[0m ${message}` : `- ${message}\n`)
}
function stepDone(): void {
  if (tty) process.stdout.write('\x1b[2K\r')
}

async function down(): Promise<void> {
  await stopDaemons()
  await removeNetwork()
  rmSync(LAB_DIR, { recursive: true, force: true })
}

async function registry(source: Source): Promise<void> {
  rmSync(QUBES_DIR, { recursive: true, force: true })
  mkdirSync(QUBES_DIR, { recursive: true })
  await modifyRegistry(QUBES_DIR, (reg) => {
    for (const qube of QUBES) {
      reg.create(qube.name, 'AppVM', [['netvm', qube.netvm ?? ''], ...(qube.providesNetwork ? [['provides_network', 'True'] as const] : [])])
    }
    for (const netvm of NETVMS) reg.setFeature(netvm, TRANSPORT_FEATURE, source === 'qubesdb' && netvm === QUBESDB_NETVM ? 'qubesdb:' : `unix:${socketPath(netvm)}`)
    // every qube behind sys-net gets IPv6, as Qubes' ipv6 feature does
    reg.setFeature('sys-net', 'ipv6', '1')
    // dom0 has no route into the lab's world (as real dom0 has no network): the agents resolve names
    reg.setGlobalProperty(RESOLVE_PROPERTY, 'agent')
  }, { create: true })
  for (const qube of QUBES) {
    const example = join(EXAMPLES, 'firewall', `${qube.name}.xml`)
    if (!existsSync(example)) continue
    mkdirSync(dirname(firewallXmlPath(QUBES_DIR, qube.name)), { recursive: true })
    copyFileSync(example, firewallXmlPath(QUBES_DIR, qube.name))
  }
}

/**
 * The lab's names live LAB_TTL seconds and its agents ask again as soon as that runs out, keeping a
 * vanished address LAB_GRACE seconds: a changed answer shows in seconds, not in the minutes of the
 * agent's defaults (30 s at least, 60 s of grace).
 */
export const LAB_TTL = 5
const LAB_GRACE = 5
const LAB_REFRESH = ['--refresh-min-ttl', '1', '--grace', String(LAB_GRACE)]

/** The world's names, in a hosts file dnsmasq rereads on SIGHUP (so tests can change an answer). */
export const HOSTS_FILE = join(LAB_DIR, 'hosts')

function startAgent(netvm: string): void {
  const dir = join(LAB_DIR, netvm)
  mkdirSync(join(dir, 'rw'), { recursive: true })
  // the netvm's own /tmp, as a firewall VM has: what a killed agent leaves there goes with the lab
  mkdirSync(join(dir, 'tmp'), { recursive: true })
  const env = { ...process.env, TMPDIR: join(dir, 'tmp') }
  const args = [AGENT, '--socket', socketPath(netvm), '--state-dir', join(dir, 'state'), '--rw-dir', join(dir, 'rw'), 'serve', ...LAB_REFRESH]
  if (labSource() === 'qubesdb' && netvm === QUBESDB_NETVM) {
    // as on Qubes: the VM's own QubesDB, which dom0 writes with qubesdb-write -d NETVM
    const store = join(QUBESDB_DIR, netvm)
    mkdirSync(store, { recursive: true })
    startDaemon(`agent-${netvm}`, netvm, process.execPath, [...args, '--source', 'qubesdb'], { ...withQubesDbTools(env), QUBESDB_DIR: store })
  } else {
    startDaemon(`agent-${netvm}`, netvm, process.execPath, args, env)
  }
}

async function waitForAgent(netvm: string): Promise<void> {
  await waitFor(`the agent in ${netvm} (${logPath(`agent-${netvm}`)})`, () => existsSync(socketPath(netvm)))
}

async function startServices(): Promise<void> {
  writeFileSync(HOSTS_FILE, Object.entries(OUTSIDE.names).map(([name, address]) => `${address} ${name}\n`).join(''))
  startDaemon('dnsmasq', OUTSIDE.ns, 'dnsmasq', [
    '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces', `--listen-address=${OUTSIDE.dns}`,
    `--addn-hosts=${HOSTS_FILE}`, `--local-ttl=${LAB_TTL}`, '--local=/lab.example/', '--log-facility=-', '--pid-file=',
  ])
  const ports = OUTSIDE.ports.join(',')
  startDaemon('world', OUTSIDE.ns, process.execPath, [WORLD_SERVER, ...OUTSIDE.servers.map((s) => `${s}/${ports}`)])
  // a service in personal, for the isolation column
  startDaemon('personal-server', 'personal', process.execPath, [WORLD_SERVER, `${ip4(qidOf('personal'))}/80`])
  for (const netvm of NETVMS) startAgent(netvm)
  for (const netvm of NETVMS) await waitForAgent(netvm)
}

/** Stops a netvm's agent (its rules stay in force) or starts it again (it restores them first, then dom0 re-pushes). */
async function agentControl(netvm: string, what: string, push: boolean): Promise<void> {
  if (!NETVMS.includes(netvm)) throw new Error(`no agent in '${shown(netvm)}' (${NETVMS.join(', ')})`)
  const pid = daemonPids().get(`agent-${netvm}`)
  if (what === 'stop') {
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGTERM')
    await waitFor(`the agent in ${netvm} to stop`, () => pid === undefined || !alive(pid))
  } else if (what === 'start') {
    if (pid !== undefined && alive(pid)) throw new Error(`the agent in ${netvm} is running (pid ${pid})`)
    startAgent(netvm)
    await waitForAgent(netvm)
    if (!push) return
    // as dom0 does when a netvm starts: everything it serves is pushed again (what changed while it
    // was down included); the agent restored its last rules before its socket existed
    process.stdout.write(`${describeOutcome(undefined, await syncNetvm(netvm, { qubesDir: QUBES_DIR, registry: loadRegistry(QUBES_DIR) }))}\n`)
  } else {
    throw new Error(`agent action must be start or stop, not '${shown(what)}'`)
  }
}

async function up(source: Source): Promise<void> {
  step('removing what a previous lab left')
  await down()
  mkdirSync(LAB_DIR, { recursive: true })
  writeFileSync(SOURCE_FILE, `${source}\n`)
  if (source === 'qubesdb') process.env['PATH'] = withQubesDbTools(process.env)['PATH']
  step('building namespaces and links')
  await buildNetwork()
  step('writing dom0 state')
  await registry(source)
  step('starting dnsmasq, servers and the agents')
  await startServices()
  await nsExec('sys-net', 'nft', ['-f', '-'], dnatDnsScript())
  step('applying every qube\'s firewall.xml')
  const reg = loadRegistry(QUBES_DIR)
  for (const netvm of NETVMS) {
    const outcome = await syncNetvm(netvm, { qubesDir: QUBES_DIR, registry: reg })
    stepDone()
    process.stdout.write(`${describeOutcome(undefined, outcome)}\n`)
  }
  step('probing every destination from every qube')
  const matrix = await probeMatrix()
  stepDone()
  process.stdout.write(`\n${formatMatrix(matrix, tty)}\n`)
  process.stdout.write(`Explore (as root):
  ip netns exec ${nsOf('work')} curl -s http://www.lab.example/        # refused: work allows only port 443
  ip netns exec ${nsOf('work')} curl -s http://www.lab.example:443/    # allowed
  export QUBES_DIR=${QUBES_DIR}
  qvm-firewall work                                          # the rules, as in Qubes
  qvm-firewall work add --before 0 accept www.lab.example tcp 80
  npm run lab -- matrix                                      # probe again
  npm run lab -- down                                        # remove everything
`)
}

/** What Qubes does when a running qube's netvm changes: the vif moves, then dom0 re-pushes every hop. */
async function move(qube: string, netvm: string): Promise<void> {
  const registry = loadRegistry(QUBES_DIR)
  const domain = registry.require(qube)
  if (domain.providesNetwork) throw new Error(`the lab moves only qubes that provide no network, not ${qube}`)
  if (!registry.require(netvm).providesNetwork) throw new Error(`${netvm} provides no network`)
  if (domain.netvm !== undefined) await disconnectQube(qube)
  await connectQube(qube, netvm)
  await changeRegistry('qubes-lab', QUBES_DIR, (reg) => reg.setProperty(qube, 'netvm', netvm))
}

async function status(): Promise<void> {
  const present = new Set(await namespaces())
  for (const ns of LAB_NAMESPACES) process.stdout.write(`${nsOf(ns).padEnd(14)}${present.has(nsOf(ns)) ? 'up' : 'missing'}\n`)
  for (const [name, pid] of daemonPids()) process.stdout.write(`${name.padEnd(22)}pid ${pid} ${alive(pid) ? 'running' : 'dead'}\n`)
}

export function buildProgram(): Command {
  return new Command('qubes-lab')
    .description('a Qubes network in network namespaces: outside, sys-net, sys-firewall, work, personal, untrusted, vault')
    .argument('[action]', 'up | down | status | matrix | agent | move', 'up')
    .argument('[args...]', 'for agent: NETVM start|stop; for move: QUBE NETVM')
    .option('--no-push', 'agent NETVM start: no push from dom0 afterwards (the agent restores its last rules by itself)')
    .addOption(new Option('--source <source>', `up: where ${QUBESDB_NETVM}'s agent takes its rules (qubesdb: its QubesDB, written by dom0 as on Qubes)`).choices(['socket', 'qubesdb']).default('socket'))
    .action(async (action: string, args: string[], options: { source: Source; push: boolean }) => {
      if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces, nftables)')
      // dom0's pushes to a QubesDB-fed sys-firewall need the QubesDB tools
      if (labSource() === 'qubesdb') process.env['PATH'] = withQubesDbTools(process.env)['PATH']
      if (action === 'up') await up(options.source)
      else if (action === 'down') await down().then(() => process.stdout.write('lab removed\n'))
      else if (action === 'status') await status()
      else if (action === 'matrix') process.stdout.write(formatMatrix(await probeMatrix(), tty))
      else if (action === 'agent') await agentControl(args[0] ?? '', args[1] ?? '', options.push)
      else if (action === 'move') await move(args[0] ?? '', args[1] ?? '')
      else throw new Error(`unknown action '${shown(action)}' (up, down, status, matrix, agent, move)`)
    })
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
}
