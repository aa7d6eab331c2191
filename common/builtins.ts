// Node's heavier built-in modules, loaded when first used rather than at start-up. A bundled
// command's imports all run before its main: child_process alone brings in net, dgram and stream,
// crypto two dozen modules more, ~15 ms that `--help`, `list` and most commands never use.
import { createRequire } from 'node:module'

type ChildProcessModule = typeof import('node:child_process')
type NetModule = typeof import('node:net')
type DgramModule = typeof import('node:dgram')
type CryptoModule = typeof import('node:crypto')
type ReadlineModule = typeof import('node:readline')
type ReadlinePromisesModule = typeof import('node:readline/promises')

const load = createRequire(import.meta.url)

export const childProcess = (): ChildProcessModule => load('node:child_process') as ChildProcessModule
export const net = (): NetModule => load('node:net') as NetModule
export const dgram = (): DgramModule => load('node:dgram') as DgramModule
export const crypto = (): CryptoModule => load('node:crypto') as CryptoModule
export const readline = (): ReadlineModule => load('node:readline') as ReadlineModule
export const readlinePromises = (): ReadlinePromisesModule => load('node:readline/promises') as ReadlinePromisesModule
