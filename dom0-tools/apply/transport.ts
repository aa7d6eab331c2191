// How dom0 reaches a netvm's agent: its Unix socket, or a command whose stdio is the socket
// (`qrexec-client -d {netvm} ...`, `ssh`, `ip netns exec`). One JSON request a line, one answer a line.
import { net } from '../../common/builtins.js'
import { runCommand } from '../../common/run-command.js'
import { CommandLineError, parseCommandLine } from './command-line.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../../common/untrusted-text.js'

export type Transport =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'exec'; readonly argv: readonly string[] }
  /** The netvm's QubesDB, written as qubesd writes it (the agent runs `serve --source qubesdb`). */
  | { readonly kind: 'qubesdb'; readonly domain: string }

export const TRANSPORT_FEATURE = 'qubes-firewall-transport'
export const DEFAULT_SOCKET = '/run/qubes-firewall/agents/{netvm}.sock'

/**
 * The netvm's `qubes-firewall-transport` feature: `unix:PATH`, or `exec:COMMAND` as shell-style
 * words (quotes kept together: `exec:qrexec-client -d {netvm} 'root:QUBESRPC qubes.FirewallAgent dom0'`)
 * or a JSON array of argv, or `qubesdb:` (the netvm's QubesDB; `qubesdb:DOMAIN` another's). `{netvm}`
 * is replaced in each word, after splitting.
 */
export function parseTransport(untrusted: string | undefined, netvm: string): Transport {
  const spec = untrusted ?? `unix:${DEFAULT_SOCKET}`
  if (spec.startsWith('unix:') && spec.length > 5) return { kind: 'unix', path: spec.slice(5).replaceAll('{netvm}', netvm) }
  if (spec === 'qubesdb:') return { kind: 'qubesdb', domain: netvm }
  if (spec.startsWith('qubesdb:')) return { kind: 'qubesdb', domain: spec.slice(8).replaceAll('{netvm}', netvm) }
  if (spec.startsWith('exec:')) {
    try {
      return { kind: 'exec', argv: parseCommandLine(spec.slice(5)).map((word) => word.replaceAll('{netvm}', netvm)) }
    } catch (err) {
      if (err instanceof CommandLineError) throw new Error(`${netvm}: feature ${TRANSPORT_FEATURE}: ${err.message} in '${shown(spec, UNTRUSTED_KEY_LIMIT)}'`)
      throw err
    }
  }
  throw new Error(`${netvm}: feature ${TRANSPORT_FEATURE} must be unix:PATH, exec:COMMAND or qubesdb:, not '${shown(spec, UNTRUSTED_KEY_LIMIT)}'`)
}

/** The agent could not be reached at all (as opposed to answering with an error). */
export class UnreachableError extends Error {
  override name = 'UnreachableError'
}

function collectLines(expected: number, onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let buffer = ''
  let seen = 0
  return (chunk) => {
    buffer += chunk.toString()
    let newline: number
    while (seen < expected && (newline = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, newline))
      buffer = buffer.slice(newline + 1)
      seen++
    }
  }
}

/** Sends the requests in order and returns the agent's answers, parsed. */
export async function exchange(transport: Transport, requests: readonly object[], timeoutMs = 120_000): Promise<unknown[]> {
  const payload = requests.map((r) => JSON.stringify(r) + '\n').join('')
  const answers: unknown[] = []
  const onLine = (line: string) => {
    try {
      answers.push(JSON.parse(line) as unknown)
    } catch {
      answers.push({ ok: false, error: `unreadable answer from the agent: ${shown(line, UNTRUSTED_KEY_LIMIT)}` })
    }
  }
  if (transport.kind === 'qubesdb') throw new Error('a QubesDB transport carries pushes only (pushThroughQubesDb)')
  if (transport.kind === 'exec') {
    const [file = '', ...args] = transport.argv
    const result = await runCommand(file, args, { input: payload, timeoutMs })
    if (result.failure !== undefined && result.stdout === '') {
      throw new UnreachableError(`${transport.argv.join(' ')}: ${(result.stderr || result.failure).split('\n')[0] ?? ''}`)
    }
    collectLines(requests.length, onLine)(result.stdout + '\n')
  } else {
    await new Promise<void>((resolve, reject) => {
      const socket = net().connect(transport.path)
      const timer = setTimeout(() => socket.destroy(new Error('timed out')), timeoutMs)
      const finish = (err?: Error) => {
        clearTimeout(timer)
        socket.destroy()
        if (err) reject(new UnreachableError(`${transport.path}: ${err.message}`))
        else resolve()
      }
      socket.on('connect', () => socket.write(payload))
      socket.on('data', collectLines(requests.length, (line) => {
        onLine(line)
        if (answers.length === requests.length) finish()
      }))
      socket.on('error', (err) => finish(err))
      socket.on('close', () => (answers.length < requests.length ? finish(new Error('closed before answering')) : undefined))
    })
  }
  if (answers.length < requests.length) throw new UnreachableError('the agent did not answer every request')
  return answers
}

