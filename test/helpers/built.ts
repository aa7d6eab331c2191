// The built programs under dist/, which some tests run while others import the sources: checked
// once per process against every source tsconfig.json compiles, so a test run alone after an
// edit fails on a stale build instead of silently testing it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository this checkout's tests belong to. */
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))

const REBUILD = '(run: npx tsc -p tsconfig.json; npm test builds first)'
// tsc leaves these out of `include` unless `exclude` is given
const SKIPPED_DIRS = new Set(['node_modules', 'bower_components', 'jspm_packages'])

interface Build {
  outDir: string
  /** one line saying why the build is stale, when it is */
  stale?: string
}

const builds = new Map<string, Build>()

/** tsconfig.json's sources and where tsc puts their .js, in the one shape this repository uses. */
function layout(root: string): { sourceDirs: string[]; rootDir: string; outDir: string } {
  const where = join(root, 'tsconfig.json')
  const config = JSON.parse(readFileSync(where, 'utf8')) as { include?: unknown; files?: unknown; exclude?: unknown; extends?: unknown; compilerOptions?: { outDir?: unknown; rootDir?: unknown } }
  const { outDir, rootDir } = config.compilerOptions ?? {}
  if (typeof outDir !== 'string' || typeof rootDir !== 'string') throw new Error(`${where}: compilerOptions.outDir and rootDir must be set for test/helpers/built.ts`)
  if (config.files !== undefined || config.exclude !== undefined || config.extends !== undefined) throw new Error(`${where}: files, exclude and extends are not understood by test/helpers/built.ts`)
  if (!Array.isArray(config.include)) throw new Error(`${where}: include must be a list for test/helpers/built.ts`)
  const sourceDirs = config.include.map((pattern: unknown) => {
    const dir = typeof pattern === 'string' ? /^([^*?]+)\/\*\*\/\*\.ts$/.exec(pattern)?.[1] : undefined
    if (dir === undefined) throw new Error(`${where}: include pattern ${JSON.stringify(pattern)} is not understood by test/helpers/built.ts (expected <dir>/**/*.ts)`)
    return resolve(root, dir)
  })
  return { sourceDirs, rootDir: resolve(root, rootDir), outDir: resolve(root, outDir) }
}

/** Every .ts tsc compiles to a .js under `dir`, sorted so the first stale one named is always the same. */
function* sources(dir: string, outDir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name) && path !== outDir) yield* sources(path, outDir)
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      yield path
    }
  }
}

function check(root: string): Build {
  const { sourceDirs, rootDir, outDir } = layout(root)
  const dist = `${relative(root, outDir)}/`
  // a pattern matching nothing is no error to tsc
  for (const dir of sourceDirs.filter((dir) => existsSync(dir))) {
    for (const source of sources(dir, outDir)) {
      const output = join(outDir, relative(rootDir, source)).replace(/\.ts$/, '.js')
      const built = statSync(output, { throwIfNoEntry: false })
      const name = relative(root, source)
      if (built === undefined) return { outDir, stale: `${dist} is stale: ${name} has no build ${REBUILD}` }
      if (built.mtimeMs < statSync(source).mtimeMs) return { outDir, stale: `${dist} is stale: ${name} is newer than its build ${REBUILD}` }
    }
  }
  return { outDir }
}

/** Why `root`'s build is stale, in one line, or undefined when it is not; checked once per process. */
export function staleness(root = ROOT): string | undefined {
  let build = builds.get(root)
  if (build === undefined) {
    build = check(root)
    builds.set(root, build)
  }
  return build.stale
}

/**
 * The absolute path of `path` inside the build (`built('vm-hooks/bin/qubes-rc-local.js')`),
 * throwing when any source is newer than its build or has none.
 */
export function built(path: string, root = ROOT): string {
  const stale = staleness(root)
  if (stale !== undefined) throw new Error(stale)
  return join(builds.get(root)!.outDir, path)
}
