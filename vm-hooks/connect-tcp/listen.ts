// A binding's listener: 127.0.0.1:LOCALPORT only (Qubes' socat listens on every address), one
// qrexec client per connection; a client that fails closes its connection, never the listener.
import { createServer, type Server, type Socket } from 'node:net'
import { bridge, describeOutcome, type Bridge } from './bridge.js'
import { qrexecArgs, type Binding } from './binding.js'

export const LISTEN_HOST = '127.0.0.1'
export const DEFAULT_QREXEC_CLIENT_VM = 'qrexec-client-vm'

export interface ListenOptions {
  /** the qrexec client to run per connection ($QREXEC_CLIENT_VM, default qrexec-client-vm on PATH) */
  readonly program: string
  /** one line per event worth keeping (a client that failed) */
  readonly log: (line: string) => void
}

export interface Listening {
  readonly server: Server
  /** stops accepting, ends every open connection and its client */
  close(): Promise<void>
}

export class ListenError extends Error {
  override name = 'ListenError'
}

export function qrexecClientProgram(env: NodeJS.ProcessEnv = process.env): string {
  const program = env['QREXEC_CLIENT_VM']
  return program === undefined || program === '' ? DEFAULT_QREXEC_CLIENT_VM : program
}

function listenError(binding: Binding, err: NodeJS.ErrnoException): ListenError {
  const where = `${LISTEN_HOST}:${binding.localPort}`
  if (err.code === 'EADDRINUSE') return new ListenError(`cannot listen on ${where}: address already in use`)
  if (err.code === 'EACCES') return new ListenError(`cannot listen on ${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`)
  return new ListenError(`cannot listen on ${where}: ${err.code ?? err.message}`)
}

export async function listenBinding(binding: Binding, options: ListenOptions): Promise<Listening> {
  const open = new Set<Bridge>()
  const args = qrexecArgs(binding)
  const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    const connection = bridge(socket, options.program, args)
    open.add(connection)
    void connection.done.then((outcome) => {
      open.delete(connection)
      const problem = describeOutcome(options.program, outcome)
      if (problem !== undefined) options.log(`connection from ${peer}: ${problem}; connection closed`)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(binding, err)))
    server.listen({ host: LISTEN_HOST, port: binding.localPort, exclusive: true }, () => resolve())
  })
  server.on('error', (err) => options.log(`listener: ${err.message}`))
  return {
    server,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      const pending = [...open].map((connection) => {
        connection.stop()
        return connection.done
      })
      await Promise.all([closed, ...pending])
    },
  }
}
