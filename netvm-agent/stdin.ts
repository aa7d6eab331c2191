// The push on stdin, whatever stdin is (a file, a pipe of any size, a terminal): read as a stream,
// since a synchronous read of a non-blocking pipe fails with EAGAIN past 64 KiB.
import { PushError } from './errors.js'

/** Upper bound of a push read from stdin, as the socket's line limit. */
export const STDIN_MAX_BYTES = 64 * 1024 * 1024

export async function readStdin(stream: NodeJS.ReadableStream = process.stdin, maxBytes = STDIN_MAX_BYTES): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of stream) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      size += buffer.length
      if (size > maxBytes) throw new PushError(`input is larger than ${maxBytes} bytes`)
      chunks.push(buffer)
    }
  } catch (err) {
    if (err instanceof PushError) throw err
    throw new PushError(`cannot read standard input: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return Buffer.concat(chunks).toString('utf8')
}
