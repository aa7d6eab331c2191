// The lab's side effects: ip/nft commands, namespaces, daemons with pid files.
import { openSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { runCommand } from '../common/run-command.js'
import { LAB_DIR, nsOf } from './topology.js'

const PID_DIR = join(LAB_DIR, 'pids')
const LOG_DIR = join(LAB_DIR, 'logs')

export async function run(file: string, args: readonly string[], input?: string): Promise<string> {
  const result = await runCommand(file, args, input !== undefined ? { input } : {})
  if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')}: ${(result.stderr || result.stdout).trim().split('\n')[0]}`)
  return result.stdout
}

export const ip = (...args: string[]) => run('ip', args)
/** `ip -n NS ...`, NS being a qube's name */
export const nsIp = (qube: string, ...args: string[]) => run('ip', ['-n', nsOf(qube), ...args])
export const nsExec = (qube: string, file: string, args: readonly string[], input?: string) => run('ip', ['netns', 'exec', nsOf(qube), file, ...args], input)

export async function namespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list'])
  return out.split('\n').map((line) => line.split(' ')[0] ?? '').filter((n) => n !== '')
}

/** Starts a long-lived process in a namespace, detached, logging to LAB_DIR/logs/NAME.log. */
export function startDaemon(name: string, qube: string, file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  mkdirSync(PID_DIR, { recursive: true })
  mkdirSync(LOG_DIR, { recursive: true })
  const log = openSync(join(LOG_DIR, `${name}.log`), 'a')
  // `ip netns exec` execs the program, so the pid is the daemon's own
  const child = spawn('ip', ['netns', 'exec', nsOf(qube), file, ...args], { detached: true, stdio: ['ignore', log, log], env })
  writeFileSync(join(PID_DIR, `${name}.pid`), `${child.pid}\n`)
  child.unref()
}

export function logPath(name: string): string {
  return join(LOG_DIR, `${name}.log`)
}

export function daemonPids(): Map<string, number> {
  const pids = new Map<string, number>()
  if (!existsSync(PID_DIR)) return pids
  for (const file of readdirSync(PID_DIR)) {
    const pid = Number(readFileSync(join(PID_DIR, file), 'utf8'))
    if (Number.isInteger(pid) && pid > 0) pids.set(file.replace(/\.pid$/, ''), pid)
  }
  return pids
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** SIGTERM, then SIGKILL for what is still there after two seconds. */
export async function stopDaemons(): Promise<void> {
  const pids = [...daemonPids().values()].filter(alive)
  for (const pid of pids) process.kill(pid, 'SIGTERM')
  for (let i = 0; i < 20 && pids.some(alive); i++) await sleep(100)
  for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL')
  rmSync(PID_DIR, { recursive: true, force: true })
}

export async function waitFor(what: string, ready: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}
