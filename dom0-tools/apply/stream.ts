// Requests whose answers go on (the agent's `log` with follow), over the transports exchange() uses
// (transport.ts): the requests are sent, and every line that comes back is handed over as it comes,
// until we close the stream or the agent's side ends. A Unix socket is read as it is; an exec:
// command keeps its stdin open (its end would end the connection) and its stdout is read line by line.
import { childProcess, net } from '../../common/builtins.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../../common/untrusted-text.js'
import { UnreachableError, type Transport } from './transport.js'

/** No answer line of the agent comes near this (a log answer holds at most 1000 drops). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024
// a transport command that ignores SIGTERM is killed after this
const KILL_AFTER_MS = 5000

export interface Stream {
  /**
   * Settles once the stream is over: 'closed' when close() ended it, 'ended' when the agent's side
   * did. Rejects with UnreachableError when the agent cannot be reached, or with what `onLine` threw.
   */
  readonly done: Promise<'closed' | 'ended'>
  close(): void
}

type Settle = { resolve: (how: 'closed' | 'ended') => void; reject: (err: unknown) => void }

/** A reader of chunks that hands `onLine` each whole line; a throw, or a line past the bound, fails the stream. */
function lineReader(onLine: (untrustedLine: string) => void, fail: (err: unknown) => void): (chunk: string) => void {
  let buffer = ''
  return (chunk) => {
    buffer += chunk
    try {
      let newline: number
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        onLine(line)
      }
      if (buffer.length > MAX_LINE_BYTES) throw new UnreachableError(`the agent sent a line longer than ${MAX_LINE_BYTES} bytes`)
    } catch (err) {
      buffer = ''
      fail(err)
    }
  }
}

function socketStream(path: string, payload: string, onLine: (line: string) => void, settle: Settle): () => void {
  const socket = net().connect(path)
  let closing = false
  let failure: unknown
  const fail = (err: unknown) => {
    failure ??= err
    socket.destroy()
  }
  // decoded as a stream: a character split between two chunks stays whole
  socket.setEncoding('utf8')
  socket.on('connect', () => socket.write(payload))
  socket.on('data', lineReader(onLine, fail))
  socket.on('error', (err) => fail(new UnreachableError(`${path}: ${err.message}`)))
  socket.on('close', () => (failure !== undefined ? settle.reject(failure) : settle.resolve(closing ? 'closed' : 'ended')))
  return () => {
    closing = true
    socket.destroy()
  }
}

function execStream(argv: readonly string[], payload: string, onLine: (line: string) => void, settle: Settle): () => void {
  const [file = '', ...args] = argv
  const child = childProcess().spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let closing = false
  let answered = false
  let stderr = ''
  let failure: unknown
  const fail = (err: unknown) => {
    failure ??= err
    child.kill('SIGTERM')
  }
  child.on('error', (err: NodeJS.ErrnoException) => (failure ??= new UnreachableError(`${argv.join(' ')}: cannot run ${file}: ${err.code ?? err.message}`)))
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', lineReader((line) => {
    answered = true
    onLine(line)
  }, fail))
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(0, 4096)))
  child.on('close', (code, signal) => {
    if (failure !== undefined) return settle.reject(failure)
    if (closing) return settle.resolve('closed')
    const why = stderr.split('\n')[0] || (signal !== null ? `killed by ${signal}` : `exit code ${code}`)
    if (!answered && code !== 0) return settle.reject(new UnreachableError(`${argv.join(' ')}: ${shown(why, UNTRUSTED_KEY_LIMIT)}`))
    settle.resolve('ended')
  })
  child.stdin.on('error', () => {})
  child.stdin.write(payload)
  return () => {
    closing = true
    // our ends of its pipes: a grandchild that keeps them open does not hold us up
    child.stdin.end()
    child.stdout.destroy()
    child.stderr.destroy()
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS).unref()
  }
}

/** Sends `requests` (one JSON line each) and hands `onLine` every line of answer until the stream is over. */
export function openStream(transport: Transport, requests: readonly object[], onLine: (untrustedLine: string) => void): Stream {
  if (transport.kind === 'qubesdb') throw new Error('a QubesDB transport carries pushes only')
  const payload = requests.map((r) => JSON.stringify(r) + '\n').join('')
  let close = () => {}
  const done = new Promise<'closed' | 'ended'>((resolve, reject) => {
    const settle = { resolve, reject }
    close = transport.kind === 'unix' ? socketStream(transport.path, payload, onLine, settle) : execStream(transport.argv, payload, onLine, settle)
  })
  return { done, close: () => close() }
}
