// Loaded into every test process (package.json: tap's node-arg). tap's processinfo (its coverage and
// `--changed` bookkeeping; coverage is disabled here) puts itself into the NODE_OPTIONS of every
// process a test starts, and so into every agent, CLI and lab process the tests run: ~150 ms more at
// each node start, its module hooks on every import, a file written at each exit. The tests run the
// product as users run it: without it. (It stays in the test process itself, where tap wants it.)
const SPAWN_HOOKS = Symbol.for('process-on-spawn@*:singletonId')
const hooks = (globalThis as Record<symbol, { listeners?: unknown[] } | undefined>)[SPAWN_HOOKS]
hooks?.listeners?.splice(0)
const ownOptions = (process.env['NODE_OPTIONS'] ?? '').split(/\s+/).filter((option) => option !== '' && !option.includes('@tapjs/processinfo'))
if (ownOptions.length > 0) process.env['NODE_OPTIONS'] = ownOptions.join(' ')
else delete process.env['NODE_OPTIONS']
