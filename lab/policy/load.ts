// Reads a policy directory as Qubes 4.2 does: the `*.policy` files (names of [0-9a-z_.-], not
// starting with `.`) in C-locale order, each line in order, `!include`, `!include-dir` and
// `!include-service` in place, paths relative to the policy directory. Any error fails the whole
// policy (every call is then denied, naming the file and line).
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { PolicyError, type Policy, type PolicyRule, type Where } from './model.js'
import { checkServiceAndArgument, parseRuleLine, parseServiceLine } from './parse.js'

export const DEFAULT_POLICY_DIR = '/etc/qubes/policy.d'
export const POLICY_SUFFIX = '.policy'
const FILE_NAME = /^[0-9a-z_.-]+$/
// includes deeper than this are a loop, or near enough
const MAX_DEPTH = 16

interface Loader {
  readonly root: string
  readonly rules: PolicyRule[]
  readonly notes: string[]
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err)
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** The policy files of a directory, in evaluation order. */
export function policyFiles(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    throw new PolicyError(dir, 0, `cannot read policy directory: ${errnoOf(err)}`)
  }
  const files = names.filter((name) => name.endsWith(POLICY_SUFFIX) && !name.startsWith('.') && isFile(join(dir, name)))
  const invalid = files.find((name) => !FILE_NAME.test(name))
  if (invalid !== undefined) throw new PolicyError(join(dir, invalid), 0, 'invalid filename (only 0-9 a-z _ . - are allowed)')
  // JavaScript compares UTF-16 code units: for these names, the C locale's order
  return files.sort().map((name) => join(dir, name))
}

function readLines(path: string, where: Where | undefined): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n')
  } catch (err) {
    if (where !== undefined) throw new PolicyError(where.file, where.line, `cannot read ${path}: ${errnoOf(err)}`)
    throw new PolicyError(path, 0, `cannot read: ${errnoOf(err)}`)
  }
}

function includedPath(loader: Loader, untrustedPath: string): string {
  return isAbsolute(untrustedPath) ? untrustedPath : resolve(loader.root, untrustedPath)
}

function params(directive: string[], count: number, where: Where): string[] {
  const rest = directive.slice(1)
  if (rest.length !== count) throw new PolicyError(where.file, where.line, 'invalid number of params')
  return rest
}

function loadDir(loader: Loader, dir: string, depth: number): void {
  for (const file of policyFiles(dir)) loadFile(loader, file, depth, undefined)
}

function loadFile(loader: Loader, file: string, depth: number, from: Where | undefined): void {
  if (depth > MAX_DEPTH) throw new PolicyError(from?.file ?? file, from?.line ?? 0, `includes nested deeper than ${MAX_DEPTH} (a loop?)`)
  readLines(file, from).forEach((untrustedLine, index) => {
    const where = { file, line: index + 1 }
    const line = untrustedLine.trim()
    if (line === '' || line.startsWith('#')) return
    if (!line.startsWith('!')) {
      loader.rules.push(parseRuleLine(line, where))
      return
    }
    const directive = line.split(/\s+/)
    switch (directive[0]) {
      case '!include': {
        const [path = ''] = params(directive, 1, where)
        const target = includedPath(loader, path)
        if (!isFile(target)) throw new PolicyError(file, where.line, `not a file: ${target}`)
        loadFile(loader, target, depth + 1, where)
        return
      }
      case '!include-dir': {
        const [path = ''] = params(directive, 1, where)
        const target = includedPath(loader, path)
        if (!isDirectory(target)) throw new PolicyError(file, where.line, `not a directory: ${target}`)
        if (depth + 1 > MAX_DEPTH) throw new PolicyError(file, where.line, `includes nested deeper than ${MAX_DEPTH} (a loop?)`)
        loadDir(loader, target, depth + 1)
        return
      }
      case '!include-service': {
        const [service = '', argument = '', path = ''] = params(directive, 3, where)
        checkServiceAndArgument(service, argument, where)
        const target = includedPath(loader, path)
        if (!isFile(target)) throw new PolicyError(file, where.line, `not a file: ${target}`)
        loadServiceFile(loader, service, argument, target, depth + 1, where)
        return
      }
      case '!compat-4.0':
        // Qubes 4.0's /etc/qubes-rpc/policy/* files: not read here (say so rather than guess)
        loader.notes.push(`${file}:${where.line}: !compat-4.0 ignored: Qubes 4.0 policy files (/etc/qubes-rpc/policy) are not read`)
        return
      default:
        throw new PolicyError(file, where.line, 'invalid directive')
    }
  })
}

function loadServiceFile(loader: Loader, service: string, argument: string, file: string, depth: number, from: Where): void {
  if (depth > MAX_DEPTH) throw new PolicyError(from.file, from.line, `includes nested deeper than ${MAX_DEPTH} (a loop?)`)
  readLines(file, from).forEach((untrustedLine, index) => {
    const where = { file, line: index + 1 }
    const trimmed = untrustedLine.trim()
    if (trimmed === '' || trimmed.startsWith('#')) return
    // Qubes' compatibility substitutions for the old syntax
    const line = trimmed.replaceAll('$include:', '!include ').replaceAll('$', '@').replaceAll(',', ' ')
    if (!line.startsWith('!')) {
      loader.rules.push(parseServiceLine(service, argument, line, where))
      return
    }
    const directive = line.split(/\s+/)
    if (directive[0] !== '!include') throw new PolicyError(file, where.line, 'invalid directive')
    const [path = ''] = params(directive, 1, where)
    const target = includedPath(loader, path)
    if (!isFile(target)) throw new PolicyError(file, where.line, `not a file: ${target}`)
    loadServiceFile(loader, service, argument, target, depth + 1, where)
  })
}

/** The whole policy of `dir`; throws a PolicyError (file:line: reason) when any of it is wrong. */
export function loadPolicy(dir: string = DEFAULT_POLICY_DIR): Policy {
  const loader: Loader = { root: resolve(dir), rules: [], notes: [] }
  loadDir(loader, dir, 0)
  return { rules: loader.rules, notes: loader.notes }
}
