// The namespace lab of the bench parts that run a real daemon (bench-droplog.ts, bench-names.ts):
// a VM namespace behind a vif of a firewall namespace, whose uplink leads to an outside namespace;
// the processes started in them; the daemon's socket. Everything it makes goes in destroy(), also
// on a failure, at exit and on SIGINT/SIGTERM (withLab).
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export const AGENT = fileURLToPath(new URL('../netvm-agent/bin/qubes-firewall-agent.js', import.meta.url))
/** The VM, its gateway (the firewall's address on its vif), and the outside namespace's address. */
export const [VM, GATEWAY, OUTSIDE] = ['10.137.0.2', '10.137.0.1', '192.0.2.10']
const execFileAsync = promisify(execFile)
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export type Answer = Record<string, unknown>
/** Epoch milliseconds, fractional: the clock tcpdump's timestamps share. */
export const now = () => performance.timeOrigin + performance.now()

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

export async function timed<T>(work: () => Promise<T>): Promise<[ms: number, result: T]> {
  const start = performance.now()
  const result = await work()
  return [performance.now() - start, result]
}

export async function waitUntil(what: string, ready: () => boolean, ms = 15_000): Promise<void> {
  for (const end = now() + ms; !ready(); await sleep(5)) if (now() > end) throw new Error(`${what}: not within ${ms} ms`)
}

/** The three namespaces `qf<tag><pid>-vm|fw|out`, the processes started in them and a directory; all removed by destroy(). */
export class Lab {
  readonly vm: string
  readonly fw: string
  readonly out: string
  readonly dir: string
  private readonly children = new Set<ChildProcess>()
  private made: string[] = []

  /** `tag`: two letters naming the bench part, in its namespaces, interfaces and directory. */
  constructor(private readonly tag: string) {
    ;[this.vm, this.fw, this.out] = ['vm', 'fw', 'out'].map((role) => `qf${tag}${process.pid}-${role}`) as [string, string, string]
    this.dir = mkdtempSync(join(tmpdir(), `qf${tag}-`))
  }

  build(): void {
    // the agent takes vif* for a VM's interface; names stay within 15 characters
    const [vif, uplink] = [`vif${this.tag}${process.pid % 100000}`, `up${this.tag}${process.pid % 100000}`]
    for (const ns of [this.vm, this.fw, this.out]) {
      execFileSync('ip', ['netns', 'add', ns])
      this.made.push(ns)
    }
    execFileSync('ip', ['link', 'add', vif, 'netns', this.fw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.vm])
    execFileSync('ip', ['link', 'add', uplink, 'netns', this.fw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.out])
    // as Qubes plugs a VM: the gateway as a host address on its vif, a host route to the VM (anti-spoofing needs it)
    this.batch(this.fw, [`addr add ${GATEWAY}/32 dev ${vif}`, `link set ${vif} up`, `route add ${VM} dev ${vif}`, `addr add 192.0.2.1/24 dev ${uplink}`, `link set ${uplink} up`])
    this.batch(this.vm, [`addr add ${VM}/32 dev eth0`, 'link set eth0 up', `route add ${GATEWAY} dev eth0`, `route add default via ${GATEWAY} dev eth0`])
    this.batch(this.out, [`addr add ${OUTSIDE}/24 dev eth0`, 'link set eth0 up'])
    // the kernel's other defaults stay, as in a firewall VM (ICMP errors within its rate limit)
    execFileSync('ip', ['netns', 'exec', this.fw, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
  }

  private batch(ns: string, commands: string[]): void {
    execFileSync('ip', ['-n', ns, '-batch', '-'], { input: ['link set lo up', ...commands].join('\n') })
  }

  /** A long-running process inside a namespace (`ip netns exec` execs it: the pid is its own). */
  spawn(ns: string, file: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    return child
  }

  async exec(ns: string, file: string, args: string[]): Promise<string> {
    return (await execFileAsync('ip', ['netns', 'exec', ns, file, ...args], { maxBuffer: 1 << 24 })).stdout
  }

  /** SIGTERM, so that the daemon stops its tcpdump; then the namespaces (their interfaces and qdiscs) and the directory go. */
  async destroy(): Promise<void> {
    await Promise.race([Promise.all([...this.children].map(stop)), sleep(5000)])
    this.destroySync()
  }

  /** At exit or on a signal: no awaiting possible. */
  destroySync(): void {
    for (const child of this.children) child.kill('SIGTERM')
    for (const ns of this.made) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
    this.made = []
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** SIGTERM to one child; resolves once it exited. */
export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  return exited
}

/** A lab built for `work`, removed after it, also when it fails, at exit, and on SIGINT or SIGTERM. */
export async function withLab(tag: string, work: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = new Lab(tag)
  const onExit = () => lab.destroySync()
  const onSignal = () => process.exit(130)
  process.once('exit', onExit).once('SIGINT', onSignal).once('SIGTERM', onSignal)
  try {
    lab.build()
    await work(lab)
  } finally {
    await lab.destroy()
    process.off('exit', onExit).off('SIGINT', onSignal).off('SIGTERM', onSignal)
  }
}

/** Waits until a child prints `marker` (stdout or stderr); fails if it exits first or after 10 s. */
export function waitFor(child: ChildProcess, marker: string | RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const done = (err?: Error) => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onData)
      if (err) reject(err)
      else resolve()
    }
    const timer = setTimeout(() => done(new Error(`${what}: no '${String(marker)}' within 10 s: ${seen.trim()}`)), 10_000)
    const onData = (chunk: Buffer) => {
      seen += chunk.toString()
      if (typeof marker === 'string' ? seen.includes(marker) : marker.test(seen)) done()
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => done(new Error(`${what} exited (${code}): ${seen.trim()}`)))
  })
}

export interface Seen {
  /** Epoch ms. */
  at: number
  line: string
}

/** The lines a child prints matching `pattern`, recorded as they arrive, each at `stamp` (its arrival by default). */
export function timeline(child: ChildProcess, pattern: RegExp, stamp: (line: string) => number = now): Seen[] {
  const seen: Seen[] = []
  for (const stream of [child.stdout, child.stderr]) {
    let rest = ''
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) if (pattern.test(line)) seen.push({ at: stamp(line), line })
    })
  }
  return seen
}

/** One request to the daemon's socket, its one answer line. */
export function ask(socket: string, request: Answer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket)
    let buffer = ''
    conn.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk
      const newline = buffer.indexOf('\n')
      if (newline < 0) return
      conn.destroy()
      resolve(JSON.parse(buffer.slice(0, newline)) as Answer)
    })
    conn.once('error', reject)
    conn.once('close', () => reject(new Error(`the daemon gave no answer to ${String(request['op'])}`)))
    conn.write(`${JSON.stringify(request)}\n`)
  })
}

/** The daemon as a user runs it, in the firewall namespace (its socket and state in the lab's directory); up once it listens. */
export async function startAgent(lab: Lab, resolvConf: string, serveArgs: string[] = []): Promise<{ socket: string; child: ChildProcess }> {
  const socket = join(lab.dir, 'agent.sock')
  const args = [AGENT, '--resolv-conf', resolvConf, '--rw-dir', join(lab.dir, 'rw'), '--state-dir', join(lab.dir, 'state'), '--socket', socket, 'serve', ...serveArgs]
  const child = lab.spawn(lab.fw, process.execPath, args, { ...process.env, QUBES_FIREWALL_SYSTEM_HOOKS: join(lab.dir, 'none') })
  await waitFor(child, 'listening on', 'the agent')
  return { socket, child }
}
