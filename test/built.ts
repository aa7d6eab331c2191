// test/helpers/built.ts: a test run alone after an edit must fail on a stale dist/, naming the
// source, instead of silently running the old build.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { built, ROOT } from './helpers/built.js'
import { exactly } from './helpers/exactly.js'

const TSCONFIG = { compilerOptions: { outDir: 'dist', rootDir: '.' }, include: ['common/**/*.ts', 'vm-hooks/**/*.ts'] }
const T0 = 1_700_000_000
const stale = (what: string) => exactly(`dist/ is stale: ${what} (run: npx tsc -p tsconfig.json; npm test builds first)`)

/** A file of a fake repository and its mtime, in seconds after T0. */
type Files = Record<string, number>

// [what, files of a fake repository, built('vm-hooks/bin/x.js') inside it or the error]
const cases: [what: string, files: Files, want: string | RegExp][] = [
  ['every build newer than its source', { 'common/a.ts': 0, 'dist/common/a.js': 1, 'vm-hooks/bin/x.ts': 0, 'dist/vm-hooks/bin/x.js': 1 }, 'dist/vm-hooks/bin/x.js'],
  ['a build as old as its source', { 'vm-hooks/bin/x.ts': 5, 'dist/vm-hooks/bin/x.js': 5 }, 'dist/vm-hooks/bin/x.js'],
  // no .js comes of a declaration file, nor of a source tsconfig.json does not include
  ['no build for a .d.ts or an excluded directory', { 'vm-hooks/bin/x.ts': 0, 'dist/vm-hooks/bin/x.js': 1, 'common/types.d.ts': 9, 'common/node_modules/m/i.ts': 9, 'test/t.ts': 9 }, 'dist/vm-hooks/bin/x.js'],
  ['a source newer than its build', { 'common/deep/a.ts': 2, 'dist/common/deep/a.js': 1, 'vm-hooks/bin/x.ts': 0, 'dist/vm-hooks/bin/x.js': 1 }, stale('common/deep/a.ts is newer than its build')],
  ['a source another program imports, newer than its build', { 'common/a.ts': 0, 'dist/common/a.js': 1, 'vm-hooks/bin/x.ts': 0, 'dist/vm-hooks/bin/x.js': 1, 'vm-hooks/lib.ts': 3, 'dist/vm-hooks/lib.js': 2 }, stale('vm-hooks/lib.ts is newer than its build')],
  ['a source with no build', { 'vm-hooks/bin/x.ts': 0, 'dist/vm-hooks/bin/x.js': 1, 'vm-hooks/bin/y.ts': 0 }, stale('vm-hooks/bin/y.ts has no build')],
  ['no dist/ at all', { 'vm-hooks/bin/x.ts': 0 }, stale('vm-hooks/bin/x.ts has no build')],
]

function fakeRepo(t: Test, files: Files): string {
  const root = mkdtempSync(join(tmpdir(), 'built-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify(TSCONFIG))
  for (const [file, at] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true })
    writeFileSync(join(root, file), '')
    utimesSync(join(root, file), T0 + at, T0 + at)
  }
  return root
}

t.test('a fake repository', async (t) => {
  t.plan(cases.length)
  for (const [what, files, want] of cases) {
    t.test(what, async (t) => {
      const root = fakeRepo(t, files)
      if (typeof want === 'string') t.equal(built('vm-hooks/bin/x.js', root), join(root, want))
      else t.throws(() => built('vm-hooks/bin/x.js', root), { message: want })
    })
  }
})

t.test('checked once per process: a later edit is not seen, a stale build stays refused', async (t) => {
  const fresh = fakeRepo(t, { 'vm-hooks/bin/x.ts': 0, 'dist/vm-hooks/bin/x.js': 1 })
  t.equal(built('vm-hooks/bin/x.js', fresh), join(fresh, 'dist/vm-hooks/bin/x.js'))
  utimesSync(join(fresh, 'vm-hooks/bin/x.ts'), T0 + 2, T0 + 2)
  t.equal(built('vm-hooks/bin/x.js', fresh), join(fresh, 'dist/vm-hooks/bin/x.js'), 'the first answer kept')

  const old = fakeRepo(t, { 'vm-hooks/bin/x.ts': 2, 'dist/vm-hooks/bin/x.js': 1 })
  t.throws(() => built('vm-hooks/bin/x.js', old), { message: stale('vm-hooks/bin/x.ts is newer than its build') })
  utimesSync(join(old, 'dist/vm-hooks/bin/x.js'), T0 + 3, T0 + 3)
  t.throws(() => built('vm-hooks/bin/x.js', old), { message: stale('vm-hooks/bin/x.ts is newer than its build') }, 'the first answer kept')
})

t.test('a tsconfig.json it does not understand is an error, not an unchecked build', async (t) => {
  const root = fakeRepo(t, { 'vm-hooks/bin/x.ts': 0, 'dist/vm-hooks/bin/x.js': 1 })
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG, include: ['vm-hooks/*.ts'] }))
  t.throws(() => built('vm-hooks/bin/x.js', root), {
    message: exactly(`${join(root, 'tsconfig.json')}: include pattern "vm-hooks/*.ts" is not understood by test/helpers/built.ts (expected <dir>/**/*.ts)`),
  })
})

t.test('the default root is this repository', async (t) => {
  t.equal(ROOT, resolve(fileURLToPath(new URL('..', import.meta.url))))
})
