// The qubes.ConnectTCP service end, run by qrexec in the target qube: its argument is the port,
// its stdin/stdout are the caller's connection. It connects to localhost:PORT and pipes both
// ways; each direction ends on its own (half-close), so request/response protocols that close
// their sending side first work.
import { connect, type Socket } from 'node:net'
import type { Readable, Writable } from 'node:stream'
import type { Port } from '../../common/rule/model.js'
import { parsePort } from '../../common/rule/port.js'
import { shown } from '../../common/untrusted-text.js'
import { CONNECT_TCP_PORT } from './binding.js'

export const SERVICE_HOST = 'localhost'

export class ServiceError extends Error {
  override name = 'ServiceError'
}

/**
 * qrexec passes the argument (what follows `+`) as argv[1] and as $QREXEC_SERVICE_ARGUMENT;
 * argv wins. Only a canonical decimal port is taken: the policy matched the argument as written.
 */
export function serviceArgument(untrustedArg: string | undefined, env: NodeJS.ProcessEnv = process.env): Port {
  const untrusted = untrustedArg ?? env['QREXEC_SERVICE_ARGUMENT']
  if (untrusted === undefined || untrusted === '') throw new ServiceError('missing port argument (qubes.ConnectTCP+PORT)')
  const port = parsePort(untrusted, CONNECT_TCP_PORT)
  if (port === undefined) throw new ServiceError(`Invalid port provided: '${shown(untrusted)}' (expected 1-65535)`)
  return port
}

async function connected(port: Port, host: string): Promise<Socket> {
  const socket = connect({ host, port, allowHalfOpen: true, autoSelectFamily: true })
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('error', reject)
      resolve(socket)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => reject(new ServiceError(`cannot connect to ${host}:${port}: ${err.code ?? err.message}`)))
  })
}

/**
 * Connects and pipes until both directions are done. Rejects (a ServiceError) when the
 * connection cannot be made or is reset; the caller then exits, closing its stdio.
 */
export async function runService(port: Port, io: { stdin: Readable; stdout: Writable; host?: string }): Promise<void> {
  const host = io.host ?? SERVICE_HOST
  const socket = await connected(port, host)
  let failure: Error | undefined
  socket.on('error', (err: NodeJS.ErrnoException) => (failure = new ServiceError(`connection to ${host}:${port}: ${err.code ?? err.message}`)))
  // the caller went away: nothing more can be delivered either way
  io.stdin.on('error', () => socket.destroy())
  io.stdout.on('error', () => socket.destroy())
  io.stdin.pipe(socket)
  // pipe() never ends process.stdout: the caller's half-close is ours to send
  socket.pipe(io.stdout, { end: false })
  socket.once('end', () => io.stdout.end())
  await new Promise<void>((resolve) => socket.once('close', () => resolve()))
  // what the service sent is delivered before the caller sees the end
  if (io.stdout.writableEnded && !io.stdout.writableFinished && !io.stdout.destroyed) {
    await new Promise((resolve) => io.stdout.once('finish', resolve).once('error', resolve).once('close', resolve))
  }
  if (failure !== undefined) throw failure
}
