// One client connection: a stream split into lines, each answered once and in order. A line over
// `maxLine` gets one error answer and the rest of it is skipped; only new data is searched, so a
// huge line costs linear time.
import type { Socket } from 'node:net'
import type { Response } from './protocol.js'

/** Answers a client has not read yet: past this it is not reading at all, and is let go. */
export const MAX_UNREAD_ANSWERS_BYTES = 16 * 1024 * 1024

/** What a request's handler may do beyond its one answer (the drop log's --follow). */
export interface Channel {
  /** One more line, after every answer queued before it. */
  send(response: Response): void
  /** The connection stays open after the client ends its side, until it closes. */
  keepOpen(): void
  /** Resolves once the connection is gone. */
  readonly closed: Promise<void>
}

/** Answers written in the order asked, each once its work settles; a client that does not read is let go. */
function orderedAnswers(socket: Socket): { answer: (response: () => Promise<Response> | Response) => void; written: () => Promise<void> } {
  let queue = Promise.resolve()
  const answer = (response: () => Promise<Response> | Response) => {
    queue = queue.then(async () => {
      const r = await Promise.resolve()
        .then(response)
        .catch((err: unknown): Response => ({ ok: false, error: `internal error: ${(err as Error).message}` }))
      if (socket.destroyed) return
      socket.write(JSON.stringify(r) + '\n')
      if (socket.writableLength > MAX_UNREAD_ANSWERS_BYTES) socket.destroy()
    })
  }
  return { answer, written: () => queue }
}

export function serveConnection(socket: Socket, handle: (line: string, channel: Channel) => Promise<Response>, maxLine: number): void {
  let parts: Buffer[] = []
  let length = 0
  let skipping = false
  let held = false
  const { answer, written } = orderedAnswers(socket)
  const channel: Channel = {
    send: (response) => answer(() => response),
    keepOpen: () => {
      held = true
    },
    closed: new Promise((resolve) => socket.once('close', () => resolve())),
  }
  socket.on('data', (chunk: Buffer) => {
    let start = 0
    let newline: number
    while ((newline = chunk.indexOf(0x0a, start)) >= 0) {
      const piece = chunk.subarray(start, newline)
      start = newline + 1
      if (skipping) {
        skipping = false
        continue
      }
      const line = Buffer.concat([...parts, piece]).toString('utf8')
      parts = []
      length = 0
      // every line gets its answer, an empty one too: a client counting answers never waits forever
      if (line.trim() === '') answer(() => ({ ok: false, error: 'empty request' }))
      else answer(() => handle(line, channel))
    }
    if (skipping || start >= chunk.length) return
    parts.push(chunk.subarray(start))
    length += chunk.length - start
    if (length > maxLine) {
      parts = []
      length = 0
      skipping = true
      answer(() => ({ ok: false, error: `request line longer than ${maxLine} bytes` }))
    }
  })
  socket.on('error', () => socket.destroy())
  // a client that is done sending still gets every answer before the connection closes
  socket.on('end', () => void written().then(() => held || socket.end()))
}
