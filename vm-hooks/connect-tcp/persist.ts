// A permanent binding, as Qubes' docs build it by hand ("Opening a single TCP port to other
// network-isolated qube"): a systemd qvm-connect-tcp-<LOCALPORT>.socket (127.0.0.1 only,
// Accept=true) and its qvm-connect-tcp-<LOCALPORT>@.service running qrexec-client-vm per
// connection, kept in <rw-dir>/qvm-connect-tcp/, and an rc.local block that installs and starts
// them at every boot (an AppVM's root filesystem does not keep them).
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { atomicWriteFile } from '../../common/atomic-write.js'
import { formatBinding, qrexecArgs, type Binding } from './binding.js'
import { DEFAULT_QREXEC_CLIENT_VM, LISTEN_HOST } from './listen.js'

export const DEFAULT_RW_DIR = '/rw/config'
/** Under <rw-dir>: where the unit files are kept between boots. */
export const UNIT_SUBDIR = 'qvm-connect-tcp'
/** Where rc.local installs them: runtime units, gone at shutdown as the root filesystem's changes are. */
export const SYSTEMD_RUNTIME_DIR = '/run/systemd/system'

export class PersistError extends Error {
  override name = 'PersistError'
}

export function unitNames(localPort: number): { socket: string; service: string } {
  return { socket: `qvm-connect-tcp-${localPort}.socket`, service: `qvm-connect-tcp-${localPort}@.service` }
}

export function socketUnit(binding: Binding): string {
  return `[Unit]
Description=qvm-connect-tcp socket ${binding.localPort} (${formatBinding(binding)})

[Socket]
ListenStream=${LISTEN_HOST}:${binding.localPort}
Accept=true

[Install]
WantedBy=sockets.target
`
}

export function serviceUnit(binding: Binding): string {
  const [vm, service] = qrexecArgs(binding)
  // the vm is a validated qube name or @default: nothing in it needs more than systemd's quotes
  return `[Unit]
Description=qvm-connect-tcp service ${binding.localPort} (${formatBinding(binding)})

[Service]
ExecStart=${DEFAULT_QREXEC_CLIENT_VM} '${vm}' ${service}
StandardInput=socket
StandardOutput=inherit
`
}

/** A word for sh: single-quoted, a `'` inside written as '\''. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}

const begin = (localPort: number) => `# BEGIN qvm-connect-tcp-${localPort}`
const end = (localPort: number) => `# END qvm-connect-tcp-${localPort}`

/** The rc.local lines of one binding, between markers that let a later --persist replace them. */
export function rcLocalBlock(binding: Binding, unitDir: string): string {
  const names = unitNames(binding.localPort)
  return [
    `${begin(binding.localPort)} (qvm-connect-tcp --persist ${formatBinding(binding)})`,
    `cp ${shellQuote(join(unitDir, names.socket))} ${shellQuote(join(unitDir, names.service))} ${SYSTEMD_RUNTIME_DIR}/`,
    'systemctl daemon-reload',
    `systemctl start ${names.socket}`,
    end(binding.localPort),
    '',
  ].join('\n')
}

export const NEW_RC_LOCAL = `#!/bin/sh

# Run at every start of the qube (Qubes runs /rw/config/rc.local; elsewhere qubes-rc-local does).
`

/**
 * rc.local with the block of `localPort` set to `block` (replacing an earlier one in place, or
 * appended) or removed (`block` undefined). Everything else is kept byte for byte.
 */
export function withBlock(rcLocal: string | undefined, localPort: number, block: string | undefined): string {
  const text = rcLocal ?? NEW_RC_LOCAL
  const lines = text.split('\n')
  const first = lines.findIndex((line) => line === begin(localPort) || line.startsWith(`${begin(localPort)} `))
  if (first === -1) {
    if (block === undefined) return text
    const separator = text === '' || text.endsWith('\n') ? '' : '\n'
    return `${text}${separator}${block}`
  }
  const last = lines.findIndex((line, i) => i > first && line === end(localPort))
  if (last === -1) throw new PersistError(`rc.local: '${begin(localPort)}' has no '${end(localPort)}' line: fix it by hand`)
  const blockLines = block === undefined ? [] : block.replace(/\n$/, '').split('\n')
  return [...lines.slice(0, first), ...blockLines, ...lines.slice(last + 1)].join('\n')
}

export interface PersistReport {
  readonly written: string[]
  readonly removed: string[]
  readonly rcLocal: string
  readonly rcLocalChange: 'added' | 'updated' | 'unchanged' | 'removed'
  readonly madeExecutable: boolean
}

function readOptional(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined
}

function writeRcLocal(path: string, before: string | undefined, after: string, ensureExecutable: boolean): boolean {
  const mode = before === undefined ? 0o755 : statSync(path).mode & 0o7777
  // rc.local runs only when executable: a binding written into one that does not run is no binding
  const wanted = ensureExecutable ? mode | ((mode & 0o444) >> 2) : mode
  if (after !== before) {
    atomicWriteFile(path, after, wanted)
    chmodSync(path, wanted)
  } else if (wanted !== mode) {
    chmodSync(path, wanted)
  }
  return before !== undefined && wanted !== mode
}

export function persist(binding: Binding, rwDir: string): PersistReport {
  const root = resolve(rwDir)
  const unitDir = join(root, UNIT_SUBDIR)
  const names = unitNames(binding.localPort)
  const rcLocal = join(root, 'rc.local')
  const before = readOptional(rcLocal)
  // rc.local first: when its block cannot be placed, nothing at all is written
  const after = withBlock(before, binding.localPort, rcLocalBlock(binding, unitDir))
  const hadBlock = before !== undefined && withBlock(before, binding.localPort, undefined) !== before
  const files: [string, string][] = [
    [join(unitDir, names.socket), socketUnit(binding)],
    [join(unitDir, names.service), serviceUnit(binding)],
  ]
  mkdirSync(unitDir, { recursive: true, mode: 0o755 })
  for (const [path, content] of files) atomicWriteFile(path, content, 0o644)
  const madeExecutable = writeRcLocal(rcLocal, before, after, true)
  return {
    written: files.map(([path]) => path),
    removed: [],
    rcLocal,
    rcLocalChange: after === before ? 'unchanged' : hadBlock ? 'updated' : 'added',
    madeExecutable,
  }
}

/** Removes what persist() wrote for `localPort`; the rest of rc.local stays as it is. */
export function unpersist(localPort: number, rwDir: string): PersistReport {
  const root = resolve(rwDir)
  const names = unitNames(localPort)
  const removed = [names.socket, names.service].map((name) => join(root, UNIT_SUBDIR, name)).filter((path) => existsSync(path))
  for (const path of removed) rmSync(path)
  const rcLocal = join(root, 'rc.local')
  const before = readOptional(rcLocal)
  const after = before === undefined ? undefined : withBlock(before, localPort, undefined)
  if (before !== undefined && after !== undefined && after !== before) writeRcLocal(rcLocal, before, after, false)
  if (removed.length === 0 && after === before) throw new PersistError(`no persistent binding on local port ${localPort} in ${root}`)
  return { written: [], removed, rcLocal, rcLocalChange: after === before ? 'unchanged' : 'removed', madeExecutable: false }
}
