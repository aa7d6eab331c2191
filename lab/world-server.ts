// The outside world's servers (and a qube's, for the isolation column): TCP listeners that answer
// like a tiny web server, so `curl` and the matrix both see who answered.
// usage: world-server ADDR/PORT[,PORT...] ...
import { createServer } from 'node:net'

const specs = process.argv.slice(2)
const listening: Promise<void>[] = []
for (const spec of specs) {
  const slash = spec.lastIndexOf('/')
  const host = spec.slice(0, slash)
  for (const port of spec.slice(slash + 1).split(',').map(Number)) {
    const server = createServer((socket) => {
      socket.on('error', () => socket.destroy())
      socket.once('data', () => {
        const body = `hello from ${host} port ${port}\n`
        socket.end(`HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
      })
    })
    listening.push(new Promise((resolve, reject) => server.listen({ host, port }, resolve).once('error', reject)))
  }
}
await Promise.all(listening)
process.stdout.write('ready\n')
