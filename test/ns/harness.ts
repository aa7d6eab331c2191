// The namespace lab of the end-to-end tests: a firewall namespace (the netvm, running the agent),
// two VMs behind vif* interfaces and an upstream "world" with echo servers and dnsmasq.
//
//   qf<pid>-a  eth0 10.137.0.5, fd09:24ef:4179::a89:5 ── vifa<n> ┐
//                                                                 qf<pid>-fw ── upl<n> 192.0.2.1 ── qf<pid>-up
//   qf<pid>-b  eth0 10.137.0.6, fd09:24ef:4179::a89:6 ── vifb<n> ┘             eth0 192.0.2.10, .53, 198.51.100.10,
//                                                                                    2001:db8::10
// As in Qubes, each vif carries the gateway as a host address (10.137.0.1, fd09:24ef:4179::a89:1)
// with a host route to its VM: the agent's anti-spoofing (fib saddr . iif) relies on those routes.
// Every namespace carries the pid in its name; everything a lab makes is removed by t.teardown,
// also when the test fails, and on process exit as a last resort.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import type { Test } from 'tap'
import { built, staleness } from '../helpers/built.js'
import { until } from '../helpers/wait.js'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const BIN = join(ROOT, 'test/fixtures/bin')

export const VM_A = '10.137.0.5'
export const VM_B = '10.137.0.6'
export const VM_A6 = 'fd09:24ef:4179::a89:5'
export const VM_B6 = 'fd09:24ef:4179::a89:6'
export const GATEWAY = '10.137.0.1'
export const GATEWAY6 = 'fd09:24ef:4179::a89:1'
export const FW_UP = '192.0.2.1'
export const WWW = '192.0.2.10'
export const DNS = '192.0.2.53'
export const CDN = '198.51.100.10'
export const WWW6 = '2001:db8::10'
/** Ports the echo servers listen on (TCP and UDP) at WWW, CDN and WWW6. */
/** Allowed and refused answer at once; only a drop waits this long, so it is generous. */
export const PROBE_TIMEOUT_MS = 10_000

export const ECHO_PORTS = [22, 80, 443, 5000, 5001, 8079, 8080, 8081, 8082]

export type Vm = 'a' | 'b'
export type ProbeResult = 'allowed' | 'refused' | 'closed' | 'reset' | 'timeout' | `error:${string}`
export type Entries = Record<string, string>
/** One probe's outcome, how long it took, and when it started (epoch ms). */
export interface Probed {
  result: ProbeResult
  ms: number
  at: number
}

export interface VmRulesSpec {
  policy: 'accept' | 'drop'
  rules: string[]
}

/**
 * A push in QubesDB form: `/qubes-firewall/<ip>` "", its policy and NNNN rules, and the
 * connected IPs (all VMs of the lab by default).
 */
export function push(vms: Record<string, VmRulesSpec>, connected: { 4?: string[]; 6?: string[] } = { 4: [VM_A, VM_B], 6: [VM_A6, VM_B6] }): Entries {
  const entries: Entries = {}
  for (const [ip, spec] of Object.entries(vms)) {
    entries[`/qubes-firewall/${ip}`] = ''
    entries[`/qubes-firewall/${ip}/policy`] = spec.policy
    spec.rules.forEach((rule, i) => (entries[`/qubes-firewall/${ip}/${String(i).padStart(4, '0')}`] = rule))
  }
  if (connected[4]) entries['/connected-ips'] = connected[4].join(' ')
  if (connected[6]) entries['/connected-ips6'] = connected[6].join(' ')
  return entries
}

/** 40 VMs without a namespace, `rulesEach` accept rules each: what makes a push large (streamed, not through the session). */
export function fillerVms(rulesEach: number): Record<string, VmRulesSpec> {
  const vms: Record<string, VmRulesSpec> = {}
  for (let i = 0; i < 40; i++) {
    vms[`10.137.1.${i + 2}`] = { policy: 'drop', rules: Array.from({ length: rulesEach }, (_, r) => `action=accept dst4=203.0.${i}.${r} proto=tcp dstports=${1000 + r}-${2000 + r}`) }
  }
  return vms
}

/**
 * The agent's command line: $QUBES_FIREWALL_TEST_AGENT (a built qubes-firewall-agent.js) when set,
 * the built one in dist when no source is newer than its build, else the sources through tsx.
 */
function agentCommand(): string[] {
  const override = process.env['QUBES_FIREWALL_TEST_AGENT']
  if (override) return [override]
  if (staleness(ROOT) !== undefined) return ['--import', 'tsx', join(ROOT, 'netvm-agent/bin/qubes-firewall-agent.ts')]
  return [built('netvm-agent/bin/qubes-firewall-agent.js', ROOT)]
}

export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
}

let labCount = 0
const liveLabs = new Set<Lab>()
process.once('exit', () => {
  for (const lab of liveLabs) lab.destroySync()
})

export class Lab {
  readonly ns: { fw: string; a: string; b: string; up: string }
  readonly vif: { a: string; b: string }
  readonly uplink: string
  readonly dir: string
  readonly resolvConf: string
  readonly rwDir: string
  readonly stateDir: string
  readonly echoLog: string
  readonly agentArgs = agentCommand()
  private readonly children = new Set<ChildProcess>()

  constructor() {
    const n = labCount++
    const id = `qf${process.pid}${n === 0 ? '' : `.${n}`}`
    this.ns = { fw: `${id}-fw`, a: `${id}-a`, b: `${id}-b`, up: `${id}-up` }
    const short = `${(process.pid + n) % 10000}`
    this.vif = { a: `vifa${short}`, b: `vifb${short}` }
    this.uplink = `upl${short}`
    this.dir = mkdtempSync(join(tmpdir(), `${id}-`))
    this.resolvConf = join(this.dir, 'resolv.conf')
    this.rwDir = join(this.dir, 'rw')
    this.stateDir = join(this.dir, 'state')
    this.echoLog = join(this.dir, 'echo.log')
    writeFileSync(this.resolvConf, `nameserver ${DNS}\n`)
    writeFileSync(this.echoLog, '')
  }

  /** Runs a command inside a namespace; never throws on a non-zero exit. */
  async exec(ns: string, cmd: string, args: readonly string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
    const r = await execa('ip', ['netns', 'exec', ns, cmd, ...args], {
      reject: false,
      cwd: ROOT,
      ...(opts.input !== undefined && { input: opts.input }),
      ...(opts.env && { env: opts.env }),
    })
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
  }

  private async must(cmd: string, args: readonly string[]): Promise<string> {
    const r = await execa(cmd, args, { reject: false })
    if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${String(r.stderr).trim() || `exit ${r.exitCode}`}`)
    return String(r.stdout)
  }

  private ip(ns: string, ...args: string[]): Promise<string> {
    return this.must('ip', ['-n', ns, ...args])
  }

  private sysctl(ns: string, ...settings: string[]): Promise<string> {
    return this.must('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings])
  }

  /** Builds the namespaces, links, addresses and routes. */
  async build(): Promise<void> {
    liveLabs.add(this)
    const { fw, a, b, up } = this.ns
    for (const ns of [fw, a, b, up]) {
      await this.must('ip', ['netns', 'add', ns])
      // no duplicate address detection: addresses are usable at once, as a test needs
      await this.sysctl(ns, 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0')
      await this.ip(ns, 'link', 'set', 'lo', 'up')
    }
    await this.sysctl(
      fw,
      'net.ipv4.ip_forward=1',
      'net.ipv6.conf.all.forwarding=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
      // many refused probes at once are otherwise cut down by the kernel's ICMP rate limit
      'net.ipv4.icmp_ratelimit=0',
      'net.ipv6.icmp.ratelimit=0',
    )
    const vms: [ns: string, vif: string, ip4: string, ip6: string][] = [
      [a, this.vif.a, VM_A, VM_A6],
      [b, this.vif.b, VM_B, VM_B6],
    ]
    for (const [ns, vif, ip4, ip6] of vms) {
      await this.must('ip', ['link', 'add', vif, 'netns', fw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      await this.ip(fw, 'addr', 'add', `${GATEWAY}/32`, 'dev', vif)
      await this.ip(fw, '-6', 'addr', 'add', `${GATEWAY6}/128`, 'dev', vif, 'nodad')
      await this.ip(fw, 'link', 'set', vif, 'up')
      await this.ip(fw, 'route', 'add', ip4, 'dev', vif)
      await this.ip(fw, '-6', 'route', 'add', ip6, 'dev', vif)
      await this.ip(ns, 'addr', 'add', `${ip4}/32`, 'dev', 'eth0')
      await this.ip(ns, '-6', 'addr', 'add', `${ip6}/128`, 'dev', 'eth0', 'nodad')
      await this.ip(ns, 'link', 'set', 'eth0', 'up')
      await this.ip(ns, 'route', 'add', GATEWAY, 'dev', 'eth0')
      await this.ip(ns, 'route', 'add', 'default', 'via', GATEWAY, 'dev', 'eth0')
      await this.ip(ns, '-6', 'route', 'add', GATEWAY6, 'dev', 'eth0')
      await this.ip(ns, '-6', 'route', 'add', 'default', 'via', GATEWAY6, 'dev', 'eth0')
    }
    await this.must('ip', ['link', 'add', this.uplink, 'netns', fw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', up])
    await this.ip(fw, 'addr', 'add', `${FW_UP}/24`, 'dev', this.uplink)
    await this.ip(fw, '-6', 'addr', 'add', '2001:db8::1/64', 'dev', this.uplink, 'nodad')
    await this.ip(fw, 'link', 'set', this.uplink, 'up')
    await this.ip(fw, 'route', 'add', 'default', 'via', WWW, 'dev', this.uplink)
    await this.ip(fw, '-6', 'route', 'add', 'default', 'via', WWW6, 'dev', this.uplink)
    for (const address of [`${WWW}/24`, `${DNS}/24`, `${CDN}/24`]) await this.ip(up, 'addr', 'add', address, 'dev', 'eth0')
    await this.ip(up, '-6', 'addr', 'add', `${WWW6}/64`, 'dev', 'eth0', 'nodad')
    await this.ip(up, 'link', 'set', 'eth0', 'up')
    await this.ip(up, 'route', 'add', 'default', 'via', FW_UP, 'dev', 'eth0')
    await this.ip(up, '-6', 'route', 'add', 'default', 'via', '2001:db8::1', 'dev', 'eth0')
  }

  /**
   * Loads, in the firewall namespace, the nft features the agent's rules need; a message naming
   * what the kernel lacks, or undefined when everything is there.
   */
  async missingKernelFeature(): Promise<string | undefined> {
    const table = (family: string, body: string) => `table ${family} qfprobe {\n  ${body}\n}\n`
    const probes: [feature: string, ruleset: string][] = [
      ['nf_tables with ip/ip6 tables', 'table ip qfprobe {\n}\ntable ip6 qfprobe {\n}\n'],
      ['fib expression (nft_fib_ipv4)', table('ip', 'chain c { type filter hook prerouting priority -300; iifname "vif*" fib saddr . iif oif missing drop; }')],
      ['fib expression (nft_fib_ipv6)', table('ip6', 'chain c { type filter hook prerouting priority -300; iifname "vif*" fib saddr . iif oif missing drop; }')],
      ['reject (nft_reject_ipv4)', table('ip', 'chain f { type filter hook forward priority 0; reject with icmp type admin-prohibited; }')],
      ['reject (nft_reject_ipv6)', table('ip6', 'chain f { type filter hook forward priority 0; reject with icmpv6 type admin-prohibited; }')],
      ['tcp reset (nft_reject)', table('ip', 'chain g { type filter hook forward priority 1; meta l4proto tcp ct state established reject with tcp reset; }')],
      ['meta time (kernel 5.4+)', table('ip', 'chain h { type filter hook forward priority 2; meta time < "2100-01-01 00:00:00" accept; }')],
      ['masquerade (nft_masq)', table('ip', 'chain p { type nat hook postrouting priority 100; masquerade; }')],
      ['IPv6 masquerade (nft_masq)', table('ip6', 'chain p { type nat hook postrouting priority 100; masquerade; }')],
      ['verdict maps', table('ip', 'map m { type ipv4_addr : verdict; }\n  chain v { ip saddr vmap @m; }')],
    ]
    for (const [feature, ruleset] of probes) {
      const r = await this.exec(this.ns.fw, 'nft', ['-f', '-'], { input: ruleset })
      if (r.exitCode === 0) continue
      // a syntax error is this file's bug, not a missing kernel feature
      if (/syntax error/.test(r.stderr)) throw new Error(`kernel feature probe '${feature}' does not parse: ${r.stderr.trim()}`)
      return `kernel lacks ${feature}: ${r.stderr.trim().split('\n')[0] ?? ''}`
    }
    await this.exec(this.ns.fw, 'nft', ['flush', 'ruleset'])
    return undefined
  }

  /** Starts a child process that the lab kills at teardown. */
  spawn(ns: string, cmd: string, args: readonly string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    return child
  }

  /** Waits until a child prints `marker` on stdout (or stderr), fails if it exits first or after `ms`. */
  static waitFor(child: ChildProcess, marker: string | RegExp, ms = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      let seen = ''
      const onData = (chunk: Buffer) => {
        seen += chunk.toString()
        if (typeof marker === 'string' ? seen.includes(marker) : marker.test(seen)) finish(() => resolve(seen))
      }
      const onExit = (code: number | null) => finish(() => reject(new Error(`exited (${code}) before '${String(marker)}': ${seen.trim()}`)))
      const timer = setTimeout(() => finish(() => reject(new Error(`no '${String(marker)}' within ${ms} ms: ${seen.trim()}`))), ms)
      const finish = (then: () => void) => {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stderr?.off('data', onData)
        child.off('exit', onExit)
        then()
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', onData)
      child.once('exit', onExit)
    })
  }

  /** The echo servers of the upstream namespace (TCP and UDP on ECHO_PORTS, and port 53 at WWW). */
  async startEchoServers(): Promise<void> {
    const ports = ECHO_PORTS.join(',')
    const child = this.spawn(this.ns.up, process.execPath, [
      join(BIN, 'echo-server.mjs'), this.echoLog, `${WWW}/${ports},53`, `${CDN}/${ports}`, `${WWW6}/${ports}`,
    ])
    await Lab.waitFor(child, 'ready')
  }

  /** An echo server inside a VM namespace (for VM-to-VM tests). */
  async startVmEchoServer(vm: Vm, ports: number[], log: string): Promise<void> {
    const [ip4, ip6] = vm === 'a' ? [VM_A, VM_A6] : [VM_B, VM_B6]
    const child = this.spawn(this.ns[vm], process.execPath, [join(BIN, 'echo-server.mjs'), log, `${ip4}/${ports.join(',')}`, `${ip6}/${ports.join(',')}`])
    await Lab.waitFor(child, 'ready')
  }

  /**
   * dnsmasq at 192.0.2.53: www.lab.example -> 192.0.2.10, cdn.lab.example -> 198.51.100.10,
   * multi.lab.example -> 192.0.2.10, 198.51.100.10 and 2001:db8::10; other lab.example names NXDOMAIN.
   */
  async startDnsmasq(extra: string[] = []): Promise<ChildProcess> {
    const child = this.spawn(this.ns.up, 'dnsmasq', [
      '--no-daemon', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--user=root', '--group=root',
      `--listen-address=${DNS}`, '--bind-interfaces', '--port=53', '--log-facility=-',
      '--local=/lab.example/', '--address=/www.lab.example/192.0.2.10', '--address=/cdn.lab.example/198.51.100.10',
      `--host-record=multi.lab.example,${WWW},${WWW6}`, `--host-record=multi.lab.example,${CDN}`,
      `--pid-file=${join(this.dir, 'dnsmasq.pid')}`, ...extra,
    ])
    await Lab.waitFor(child, /started, version/)
    // dnsmasq says "started" before it answers: ask until it does
    await until('dnsmasq answering', async () => {
      const r = await this.exec(this.ns.fw, process.execPath, [join(BIN, 'probe.mjs'), '--timeout', '1000', `dns:${DNS}:53`])
      return r.stdout.includes(' allowed ')
    })
    // `ip netns exec` execs dnsmasq: the child is dnsmasq (SIGHUP rereads its hosts files)
    return child
  }

  /** One agent command in the firewall namespace, with the lab's resolv.conf, rw-dir and state dir. */
  agent(command: string, input?: Entries | string, extraArgs: string[] = []): Promise<RunResult> {
    return this.exec(
      this.ns.fw,
      process.execPath,
      [...this.agentArgs, '--resolv-conf', this.resolvConf, '--rw-dir', this.rwDir, '--state-dir', this.stateDir, ...extraArgs, command],
      { ...(input !== undefined && { input: typeof input === 'string' ? input : JSON.stringify(input) }) },
    )
  }

  /** `apply`, failing the test run when it does not exit 0 (use agent('apply') to look at failures). */
  async apply(entries: Entries): Promise<RunResult> {
    const r = await this.agent('apply', entries)
    if (r.exitCode !== 0) throw new Error(`apply exited ${r.exitCode}: ${r.stderr.trim()}`)
    return r
  }

  nft(...args: string[]): Promise<RunResult> {
    return this.exec(this.ns.fw, 'nft', args)
  }

  /** The ruleset without what traffic changes: counter values, and the drop log's per-source rate elements (they expire). */
  async rulesetShape(): Promise<string> {
    const text = (await this.nft('list', 'ruleset')).stdout
    return text.replace(/counter packets \d+ bytes \d+/g, 'counter').replace(/(set qf-log-rate \{[^}]*?)\n\s*elements = \{[^}]*\}/g, '$1')
  }

  /** Probes targets from a VM, in parallel: target -> result (and how long it took). */
  async probe(vm: Vm | 'fw', targets: readonly string[], opts: { timeoutMs?: number; bind?: string; payload?: string } = {}): Promise<Record<string, Probed>> {
    const args = [join(BIN, 'probe.mjs'), '--timeout', String(opts.timeoutMs ?? PROBE_TIMEOUT_MS)]
    if (opts.bind) args.push('--bind', opts.bind)
    if (opts.payload) args.push('--payload', opts.payload)
    const r = await this.exec(this.ns[vm], process.execPath, [...args, ...targets])
    if (r.exitCode !== 0) throw new Error(`probe failed: ${r.stderr.trim()}`)
    const results: Record<string, Probed> = {}
    for (const line of r.stdout.trim().split('\n')) {
      const [target = '', result = '', ms = '', at = ''] = line.split(' ')
      results[target] = { result: result as ProbeResult, ms: Number(ms), at: Number(at) }
    }
    return results
  }

  /** Probes and asserts each target's result, one assertion per target. */
  async expect(t: Test, vm: Vm | 'fw', want: Record<string, ProbeResult>, opts: { timeoutMs?: number; bind?: string; label?: string } = {}): Promise<Record<string, Probed>> {
    const got = await this.probe(vm, Object.keys(want), opts)
    for (const [target, result] of Object.entries(want)) {
      t.equal(got[target]?.result, result, `${opts.label ? `${opts.label}: ` : ''}${vm} -> ${target} ${result}`)
    }
    return got
  }

  /** One ICMP echo request from a VM (python3 raw socket): allowed, refused, unreachable or timeout. */
  async ping(vm: Vm, address: string, timeoutMs = 2500): Promise<string> {
    const r = await this.exec(this.ns[vm], 'python3', [join(BIN, 'icmp-ping.py'), address, String(timeoutMs)])
    if (r.exitCode !== 0) throw new Error(`icmp-ping failed: ${r.stderr.trim()}`)
    return r.stdout.trim().split(' ')[1] ?? ''
  }

  /**
   * The daemons' TMPDIR, in the lab's directory: a daemon keeps its nft session's private directory
   * there while it runs, and one killed with SIGKILL (as destroy() kills) leaves it behind.
   */
  get daemonTmp(): string {
    const dir = join(this.dir, 'daemon-tmp')
    mkdirSync(dir, { recursive: true })
    return dir
  }

  /** Starts `serve` in the firewall namespace and waits until it listens. */
  async startDaemon(opts: { socket?: string; env?: Record<string, string>; serveArgs?: string[] } = {}): Promise<Daemon> {
    const socket = opts.socket ?? join(this.dir, 'run', 'agent.sock')
    const child = this.spawn(
      this.ns.fw,
      process.execPath,
      [...this.agentArgs, '--resolv-conf', this.resolvConf, '--rw-dir', this.rwDir, '--state-dir', this.stateDir, '--socket', socket, 'serve', ...(opts.serveArgs ?? [])],
      { TMPDIR: this.daemonTmp, ...opts.env },
    )
    const daemon = new Daemon(child, socket)
    await Lab.waitFor(child, 'listening on')
    return daemon
  }

  /** Kills what the lab started, deletes its namespaces and files. */
  async destroy(): Promise<void> {
    const exits = [...this.children].map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve))))
    for (const child of this.children) child.kill('SIGKILL')
    await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 3000).unref())])
    for (const ns of Object.values(this.ns)) {
      killLeftovers(String((await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout))
      await execa('ip', ['netns', 'del', ns], { reject: false })
    }
    rmSync(this.dir, { recursive: true, force: true })
    liveLabs.delete(this)
  }

  /** Last resort at process exit: no awaiting possible. */
  destroySync(): void {
    for (const child of this.children) child.kill('SIGKILL')
    for (const ns of Object.values(this.ns)) {
      try {
        killLeftovers(execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * Kills what still runs in a namespace after the lab's own children were killed: a daemon killed
 * with SIGKILL leaves its drop log's tcpdump behind (`pids`: what `ip netns pids` printed).
 */
function killLeftovers(pids: string): void {
  for (const pid of pids.split(/\s+/).filter((word) => /^[0-9]+$/.test(word))) {
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {
      // gone meanwhile
    }
  }
}

/** A running `serve`, and a client for its socket (one connection, requests answered in order). */
export class Daemon {
  stderr = ''
  private client: Socket | undefined
  private pending: ((line: string) => void)[] = []
  private buffer = ''

  constructor(
    readonly child: ChildProcess,
    readonly socket: string,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()))
  }

  private async connection(): Promise<Socket> {
    if (this.client && !this.client.destroyed) return this.client
    const client = createConnection(this.socket)
    await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject))
    client.setEncoding('utf8')
    client.on('data', (chunk: string) => {
      this.buffer += chunk
      let newline: number
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline)
        this.buffer = this.buffer.slice(newline + 1)
        this.pending.shift()?.(line)
      }
    })
    this.client = client
    return client
  }

  /** Sends one line (an object is JSON-encoded) and returns the parsed response line. */
  async request(request: object | string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const client = await this.connection()
    const line = typeof request === 'string' ? request : JSON.stringify(request)
    const answer = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response within ${timeoutMs} ms to ${line.slice(0, 80)}`)), timeoutMs)
      this.pending.push((response) => {
        clearTimeout(timer)
        resolve(response)
      })
    })
    client.write(line + '\n')
    return JSON.parse(await answer) as Record<string, unknown>
  }

  /** Whether the client connection is still open. */
  get connected(): boolean {
    return this.client !== undefined && !this.client.destroyed
  }

  close(): void {
    this.client?.destroy()
  }

  /** SIGTERM; resolves with how long the daemon took to exit (rejects after `ms`: "within seconds", generously). */
  async terminate(ms = 30_000): Promise<number> {
    this.close()
    const started = Date.now()
    if (this.child.exitCode !== null) return 0
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    this.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`daemon still running ${ms} ms after SIGTERM`)), ms)))
    await Promise.race([exited, late]).finally(() => clearTimeout(timer))
    return Date.now() - started
  }
}

/**
 * A lab for one test file: built, checked for the kernel features the agent needs, echo servers
 * started, removed at teardown. Undefined (and the test skipped, the reason printed) when the
 * kernel lacks a feature.
 */
export async function makeLab(t: Test, opts: { dns?: boolean; echo?: boolean } = {}): Promise<Lab | undefined> {
  const lab = new Lab()
  t.teardown(() => lab.destroy())
  try {
    await lab.build()
  } catch (err) {
    const message = (err as Error).message
    // a kernel without network namespaces, veth or IPv6 is a missing feature; anything else is a failure
    if (/Operation not supported|Unknown device type|Protocol not supported|Address family not supported|cannot stat \/proc\/sys/.test(message)) {
      t.comment(`skipping: ${message}`)
      t.plan(0, `kernel lacks a feature the lab needs: ${message}`)
      return undefined
    }
    throw err
  }
  const missing = await lab.missingKernelFeature()
  if (missing) {
    t.comment(`skipping: ${missing}`)
    t.plan(0, missing)
    return undefined
  }
  if (opts.echo !== false) await lab.startEchoServers()
  if (opts.dns) await lab.startDnsmasq()
  return lab
}

/** The name pattern of a VM's chain(s): `qf-vm-<ip, . and : as ->`, possibly with a generation suffix. */
export function vmChainPattern(ip: string): RegExp {
  return new RegExp(`^qf-vm-${ip.replace(/[.:]/g, '-')}(-g[0-9a-z]+)?$`)
}

/** The JSON listing (`nft -j list chain`) of each chain of a VM, by name; empty when it has none. */
export async function vmChains(lab: Lab, ip: string): Promise<Record<string, string>> {
  const family = ip.includes(':') ? 'ip6' : 'ip'
  const listing = JSON.parse((await lab.nft('-j', 'list', 'chains', family)).stdout || '{"nftables":[]}') as { nftables: { chain?: { table: string; name: string } }[] }
  const pattern = vmChainPattern(ip)
  const names = listing.nftables.flatMap((item) => (item.chain?.table === 'qubes' && pattern.test(item.chain.name) ? [item.chain.name] : []))
  const chains: Record<string, string> = {}
  for (const name of names.sort()) chains[name] = (await lab.nft('-j', 'list', 'chain', family, 'qubes', name)).stdout
  return chains
}

/** Reads the echo servers' log: what reached the upstream namespace. */
export function echoLog(lab: Lab): string {
  return readFileSync(lab.echoLog, 'utf8')
}
