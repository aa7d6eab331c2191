// The house rules of imports: common/ imports nothing of the programs; each program (dom0-tools,
// netvm-agent, vm-hooks) imports only common/ and itself; the lab plays dom0, so it may also import
// dom0-tools. No two modules import each other, directly or round a longer cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import t from 'tap'

const ALLOWED: Record<string, readonly string[]> = {
  common: ['common'],
  'dom0-tools': ['common', 'dom0-tools'],
  'netvm-agent': ['common', 'netvm-agent'],
  'vm-hooks': ['common', 'vm-hooks'],
  lab: ['common', 'lab', 'dom0-tools'],
  scripts: ['common', 'dom0-tools', 'netvm-agent', 'vm-hooks', 'lab', 'scripts'],
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return name.endsWith('.ts') ? [path] : []
  })
}

/** Every relative import of a file, as a source path (`x.js` -> `x.ts`). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] as string)
  return found.map((spec) => normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'))
}

const folderOf = (file: string) => file.split('/')[0] as string
const files = Object.keys(ALLOWED).flatMap(sources)
const graph = new Map(files.map((file) => [file, imports(file)]))

t.test('each folder imports only what it may', async (t) => {
  const forbidden: string[] = []
  for (const [file, targets] of graph) {
    for (const target of targets) {
      if (!ALLOWED[folderOf(file)]?.includes(folderOf(target))) forbidden.push(`${file} -> ${relative('.', target)}`)
    }
  }
  t.same(forbidden, [], 'no forbidden arrow')
  t.ok(files.length > 50, `${files.length} files read`)
})

t.test('no import cycles', async (t) => {
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '))
      return
    }
    state.set(file, 'open')
    for (const target of graph.get(file) ?? []) visit(target, [...path, file])
    state.set(file, 'done')
  }
  for (const file of graph.keys()) visit(file, [])
  t.same(cycles, [], 'none')
})
