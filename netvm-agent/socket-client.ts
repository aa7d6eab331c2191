// The agent's own commands that ask its daemon (log, hits, check): one request on the socket, its
// answer, and with `onMore` every further line until the daemon or the user ends it.
import { net } from '../common/builtins.js'

export async function ask(socketPath: string, request: object, onMore?: (answer: unknown) => void): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = net().connect(socketPath)
    let buffer = ''
    let first: Record<string, unknown> | undefined
    socket.on('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot reach the agent at ${socketPath}: ${err.code ?? err.message}`)))
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`))
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8')
      let newline: number
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        const answer = JSON.parse(line) as Record<string, unknown>
        if (first === undefined) {
          first = answer
          resolve(answer)
          if (onMore === undefined || answer['ok'] !== true) socket.end()
        } else onMore?.(answer)
      }
    })
    socket.on('close', () => (first === undefined ? reject(new Error('the agent closed the connection without answering')) : undefined))
  })
}
