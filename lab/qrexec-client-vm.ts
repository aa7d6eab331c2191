// qrexec-client-vm, the lab's: `qrexec-client-vm TARGET SERVICE+ARG` run inside a source qube's
// namespace ($QUBES_LAB_SOURCE overrides). It plays dom0's part (the policy in
// $QUBES_POLICY_DIR, default <lab-dir>/policy.d, evaluated by
// dom0-tools/policy, @default resolved by target=) and the target's qrexec-agent (the service
// end runs inside the target's namespace with this process's stdio), so everything but Xen's
// vchan is real. Refused: "Request refused" on stderr and exit 126, as the real one.
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { evaluate, splitServiceCall } from './policy/evaluate.js'
import { loadPolicy } from './policy/load.js'
import { PolicyError } from './policy/model.js'
import { systemInfoFromRegistry } from './policy/system-info.js'
import { loadRegistry } from '../dom0-tools/registry/store.js'
import { LAB_DIR, QUBES_DIR, nsOf } from './topology.js'

const PROG = 'qrexec-client-vm'
const HERE = dirname(fileURLToPath(import.meta.url))
/** The services a lab qube offers (its /etc/qubes-rpc), by name. */
const SERVICES: Readonly<Record<string, string>> = {
  'qubes.ConnectTCP': join(HERE, '..', 'vm-hooks', 'bin', 'qubes.ConnectTCP.js'),
}
export const REFUSED_EXIT = 126

export function policyDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['QUBES_POLICY_DIR'] ?? join(LAB_DIR, 'policy.d')
}

class Refused extends Error {
  override name = 'Refused'
}

/** dom0's journal of decisions, as qrexec-policy-daemon logs them (best effort). */
function journal(line: string): void {
  try {
    mkdirSync(join(LAB_DIR, 'logs'), { recursive: true })
    appendFileSync(join(LAB_DIR, 'logs', 'qrexec-policy.log'), `${new Date().toISOString()} ${line}\n`)
  } catch {
    // the decision stands without its log line
  }
}

/** The calling qube: $QUBES_LAB_SOURCE, else the lab namespace this process runs in. */
function sourceQube(env: NodeJS.ProcessEnv): string {
  const given = env['QUBES_LAB_SOURCE']
  if (given !== undefined && given !== '') return given
  // (spawnSync, not execa: this runs once per connection, and execa's import alone costs more)
  const result = spawnSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8' })
  const prefix = env['QUBES_LAB_PREFIX'] ?? ''
  const ns = (result.stdout ?? '').split('\n').find((name) => name.startsWith(prefix) && name.length > prefix.length)
  if (result.status !== 0 || ns === undefined) throw new Error('not in a lab qube\'s namespace (run it with ip netns exec, or set QUBES_LAB_SOURCE)')
  return ns.slice(prefix.length)
}

/** dom0's decision: the target qube to run the service in, or Refused with dom0's reason. */
export function decide(source: string, untrustedTarget: string, untrustedCall: string, dir: string): string {
  const { service, argument } = splitServiceCall(untrustedCall)
  const registry = loadRegistry(QUBES_DIR)
  const what = `${service}${argument === '+' ? '' : argument} ${source} -> ${untrustedTarget || '@default'}`
  let policy
  try {
    policy = loadPolicy(dir)
  } catch (err) {
    if (err instanceof PolicyError) throw new Refused(`${what}: policy error: ${err.message}`)
    throw err
  }
  const resolution = evaluate(policy, { service, argument, source, target: untrustedTarget }, systemInfoFromRegistry(registry))
  if (resolution.verdict === 'deny') throw new Refused(`${what}: ${resolution.reason}`)
  if (resolution.target === 'dom0' || resolution.target.startsWith('@dispvm:')) {
    throw new Refused(`${what}: allowed to ${resolution.target}, which the lab cannot run services in`)
  }
  journal(`${what}: allowed to ${resolution.target}`)
  return resolution.target
}

async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = argv.slice(2)
  if (args.length !== 2 || args.some((a) => a.startsWith('-'))) throw new Error(`usage: ${PROG} TARGET SERVICE[+ARGUMENT] (the lab's supports no options)`)
  const [untrustedTarget = '', untrustedCall = ''] = args
  const source = sourceQube(env)
  let target: string
  try {
    target = decide(source, untrustedTarget, untrustedCall, policyDir(env))
  } catch (err) {
    if (!(err instanceof Refused)) throw err
    journal(`denied: ${err.message}`)
    process.stderr.write(`Request refused (lab dom0: ${err.message})\n`)
    return REFUSED_EXIT
  }
  const { service, argument } = splitServiceCall(untrustedCall)
  const program = SERVICES[service]
  if (program === undefined) {
    process.stderr.write(`${PROG}: ${target} has no service ${service} in the lab\n`)
    return 127
  }
  const serviceArgument = argument.slice(1)
  // the target's qrexec-agent: the service, in the target, with our stdio as the connection
  const child = spawn('ip', ['netns', 'exec', nsOf(target), process.execPath, program, ...(serviceArgument === '' ? [] : [serviceArgument])], {
    stdio: 'inherit',
    env: {
      ...env,
      QREXEC_SERVICE_ARGUMENT: serviceArgument,
      QREXEC_REMOTE_DOMAIN: source,
      QREXEC_SERVICE_FULL_NAME: untrustedCall,
      QREXEC_REQUESTED_TARGET: untrustedTarget || '@default',
    },
  })
  const forward = (signal: NodeJS.Signals) => child.kill(signal)
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, forward)
  return new Promise((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`${PROG}: cannot start the service in ${target}: ${err.message}\n`)
      resolve(1)
    })
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : signalNumber(signal))))
  })
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0
}

export async function main(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    process.exitCode = await run(argv, env)
  } catch (err) {
    process.stderr.write(`${PROG}: error: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`)
    process.exitCode = 1
  }
}
