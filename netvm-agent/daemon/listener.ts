// The daemon's Unix socket: 0600 from its first moment, a bounded number of clients, each served
// line by line (connection.ts).
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import { net } from '../../common/builtins.js'
import { dirname } from 'node:path'
import { serveConnection, type Channel } from './connection.js'
import type { Response } from './protocol.js'

const MAX_LINE = 64 * 1024 * 1024
/** Clients at once; one more gets one error line and is closed (dom0 uses one or two). */
const MAX_CONNECTIONS = 64

export interface Listener {
  close(): void
}

export async function listen(socketPath: string, handle: (line: string, channel: Channel) => Promise<Response>): Promise<Listener> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 })
  rmSync(socketPath, { force: true })
  let connections = 0
  const server = net().createServer({ allowHalfOpen: true }, (socket) => {
    if (connections >= MAX_CONNECTIONS) {
      socket.on('error', () => socket.destroy())
      socket.end(`${JSON.stringify({ ok: false, error: `too many connections (at most ${MAX_CONNECTIONS})` })}\n`)
      return
    }
    connections++
    socket.once('close', () => connections--)
    serveConnection(socket, handle, MAX_LINE)
  })
  // created under a umask that leaves nothing for others, so there is no moment it is open to them
  const oldUmask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => server.listen(socketPath, resolve).once('error', reject))
  } finally {
    process.umask(oldUmask)
  }
  chmodSync(socketPath, 0o600)
  return {
    close() {
      server.close()
      rmSync(socketPath, { force: true })
    },
  }
}
