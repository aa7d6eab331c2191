// What the agent loads for fixture pushes, snapshotted: review a snapshot's diff like code.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { EpochSeconds } from '../common/rule/model.js'
import { Agent, type AgentEffects } from '../netvm-agent/agent.js'
import { parsePush } from '../netvm-agent/push/parse.js'

const FIXTURES = 'test/fixtures/push'
const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()

/** A first apply on a machine without the base table, names resolved by dom0 only, a fixed clock. */
async function render(untrustedPush: unknown): Promise<{ transaction: unknown; result: unknown }> {
  let transaction = ''
  const fx: AgentEffects = {
    runNft: async (json) => void (transaction = json),
    listNft: async () => undefined,
    resolve: async (names) => new Map(names.map((n) => [n, { error: 'no DNS in this test' }])),
    nameservers: () => ({ 4: ['10.139.1.1', '10.139.1.2'], 6: [] }),
    now: () => 1_800_000_000 as EpochSeconds,
  }
  const result = await new Agent(fx).replace(parsePush(untrustedPush))
  // chain generations depend on the clock: name them by order of appearance instead
  const generations = new Map<string, string>()
  const stable = transaction.replace(/-g[0-9a-z]+"/g, (g) => {
    if (!generations.has(g)) generations.set(g, `-g${generations.size}"`)
    return generations.get(g) as string
  })
  return { transaction: JSON.parse(stable) as unknown, result }
}

t.plan(files.length)
for (const file of files) {
  t.test(file, async (t) => {
    const { transaction, result } = await render(JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')))
    t.matchSnapshot(result, 'what the agent answers')
    t.matchSnapshot(transaction, 'the one transaction it loads')
  })
}
