// One connection attempt per target, all at once, from inside a qube's namespace.
// usage: probe [--timeout MS] tcp:ADDR:PORT | dns:ADDR:NAME ...
// Prints `<target> allowed|refused|closed|timed out` a line: refused is the firewall's ICMP
// admin-prohibited, closed a TCP reset from the destination itself.
import { connect } from 'node:net'
import { resolveName } from '../common/dns/resolver.js'

const args = process.argv.slice(2)
let timeoutMs = 2000
const targets: string[] = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--timeout') timeoutMs = Number(args[++i])
  else targets.push(args[i] as string)
}

export type Verdict = 'allowed' | 'refused' | 'closed' | 'timed out'

function tcp(host: string, port: number): Promise<Verdict> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (verdict: Verdict) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(verdict)
    }
    const timer = setTimeout(() => done('timed out'), timeoutMs)
    socket.on('connect', () => done('allowed'))
    socket.on('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? 'closed' : err.code === 'EHOSTUNREACH' || err.code === 'EACCES' || err.code === 'ENETUNREACH' ? 'refused' : 'timed out'),
    )
  })
}

async function dns(server: string, name: string): Promise<Verdict> {
  const result = await resolveName(name, { nameservers: [server], timeoutMs, attempts: 1 })
  if ('addresses' in result) return 'allowed'
  return /EHOSTUNREACH|EACCES|ECONNREFUSED|ENETUNREACH/.test(result.error) ? 'refused' : 'timed out'
}

const results = await Promise.all(
  targets.map(async (target) => {
    const [kind, ...rest] = target.split(':')
    const last = rest.pop() ?? ''
    const host = rest.join(':')
    const verdict = kind === 'dns' ? await dns(host, last) : await tcp(host, Number(last))
    return `${target} ${verdict}`
  }),
)
process.stdout.write(results.join('\n') + '\n')
