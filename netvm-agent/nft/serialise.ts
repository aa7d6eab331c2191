// The one place where the model becomes what nft reads (statement-text.ts writes the statements of
// rules): its native syntax (parsed in less than half the time of its JSON), one command a line (a
// chain added with its rules: one block, a rule a line), in the model's order, so two renders diff
// command by command. Nothing is copied through unchecked: names, keywords and numbers match strict
// patterns or fixed lists, addresses are re-formatted from parsed values, comments quoted after an
// allowlist. A value that fails is an Error, never escaped: push parsing bounds what reaches the model.
import { NFT_FAMILIES, type ChainObj, type Command, type ElementObj, type ElementValue, type MapObj, type NftFamily, type NftObject, type RuleObj, type SetObj, type Verdict } from './model.js'
import { integer, keyword, name, nftAddress, nftComment, prefixText, refuse, statementText, verdictText } from './statement-text.js'

const familyOf = (family: unknown): NftFamily => keyword('family', NFT_FAMILIES, family) as NftFamily
const spec = (obj: { family: NftFamily; table: string; name: string }) => `${familyOf(obj.family)} ${name(obj.table)} ${name(obj.name)}`

function chainText(chain: ChainObj, withHook: boolean): string {
  const { type, hook, prio, policy } = chain
  if (!withHook || (type === undefined && hook === undefined && prio === undefined && policy === undefined)) return `chain ${spec(chain)}`
  if (type === undefined || hook === undefined || prio === undefined) refuse('base chain (type, hook and prio go together)', chain)
  const policyText = policy === undefined ? '' : ` policy ${keyword('policy', ['accept', 'drop'], policy)} ;`
  const hookName = keyword('hook', ['prerouting', 'input', 'forward', 'output', 'postrouting'], hook)
  const hookText = `type ${keyword('chain type', ['filter', 'nat'], type)} hook ${hookName} priority ${integer('priority', -(2 ** 31), 2 ** 31 - 1, prio)} ;`
  return `chain ${spec(chain)} { ${hookText}${policyText} }`
}

/** A set or a verdict map (the one with a `map` field), with the body `add` gives it. */
function setText(obj: SetObj | MapObj, withBody: boolean): string {
  const kind = 'map' in obj ? 'map' : 'set'
  if (!withBody) return `${kind} ${spec(obj)}`
  const type = keyword('set type', ['ipv4_addr', 'ipv6_addr'], obj.type)
  if ('map' in obj) return `map ${spec(obj)} { type ${type} : ${keyword('map data', ['verdict'], obj.map)} ; }`
  const flags = obj.flags === undefined || obj.flags.length === 0 ? '' : ` flags ${obj.flags.map((f) => keyword('set flag', ['interval', 'dynamic', 'timeout'], f)).join(',')} ;`
  const size = obj.size === undefined ? '' : ` size ${integer('set size', 1, 2 ** 32 - 1, obj.size)} ;`
  const timeout = obj.timeout === undefined ? '' : ` timeout ${integer('set timeout', 1, 2 ** 31, obj.timeout)}s ;`
  return `set ${spec(obj)} { type ${type} ;${flags}${size}${timeout} }`
}

function elementText(element: ElementObj): string {
  const family = familyOf(element.family)
  const item = (e: ElementValue | [string, Verdict]): string => {
    if (Array.isArray(e)) return `${nftAddress(family, e[0])} : ${verdictText(e[1]) ?? refuse('map verdict', e[1])}`
    return typeof e === 'string' ? nftAddress(family, e) : prefixText(family, e.prefix)
  }
  if (element.elem.length === 0) refuse('empty element list', element)
  return `element ${spec(element)} { ${element.elem.map(item).join(', ')} }`
}

/** A rule's statements and comment: what follows its chain (and position). */
function ruleBody(rule: RuleObj): string {
  const family = familyOf(rule.family)
  if (rule.expr.length === 0) refuse('rule without statements', rule)
  const statements = rule.expr.map((s) => statementText(s, family)).join(' ')
  return rule.comment === undefined ? statements : `${statements} comment ${nftComment(rule.comment)}`
}

/** A rule: where it goes (after a handle, at an index), its statements, its comment. */
function ruleText(rule: RuleObj): string {
  if (rule.handle !== undefined && rule.index !== undefined) refuse('rule position (handle or index, not both)', rule)
  const position = rule.handle !== undefined ? ` handle ${integer('handle', 1, 2 ** 53, rule.handle)}`
    : rule.index !== undefined ? ` index ${integer('index', 0, 2 ** 32, rule.index)}` : ''
  return `rule ${familyOf(rule.family)} ${name(rule.table)} ${name(rule.chain)}${position} ${ruleBody(rule)}`
}

/** An object as `add` writes it (with its body), or as `delete` names it. */
function objectText(obj: NftObject, verb: 'add' | 'delete'): string {
  const add = verb === 'add'
  if ('table' in obj) return `table ${familyOf(obj.table.family)} ${name(obj.table.name)}`
  if ('chain' in obj) return chainText(obj.chain, add)
  if ('map' in obj || 'set' in obj) return setText('map' in obj ? obj.map : obj.set, add)
  if ('element' in obj) return elementText(obj.element)
  if (add) return ruleText(obj.rule)
  const { family, table, chain, handle } = obj.rule
  return `rule ${familyOf(family)} ${name(table)} ${name(chain)} handle ${integer('handle', 1, 2 ** 53, handle)}`
}

function commandText(command: Command): string {
  if ('add' in command) return `add ${objectText(command.add, 'add')}`
  if ('insert' in command) return `insert ${ruleText(command.insert.rule)}`
  if ('delete' in command) return `delete ${objectText(command.delete, 'delete')}`
  const flushed = command.flush
  return `flush ${'chain' in flushed ? chainText(flushed.chain, false) : setText('map' in flushed ? flushed.map : flushed.set, false)}`
}

/** A regular chain (no hook) that `command` adds: the rules appended to it next can go in its block. */
function addedRegularChain(command: Command): ChainObj | undefined {
  if (!('add' in command) || !('chain' in command.add)) return undefined
  const chain = command.add.chain
  return chain.hook === undefined && chain.type === undefined && chain.prio === undefined && chain.policy === undefined ? chain : undefined
}

/** The rule of `command` when it appends (no position) to `chain`. */
function appendedTo(command: Command | undefined, chain: ChainObj): RuleObj | undefined {
  if (command === undefined || !('add' in command) || !('rule' in command.add)) return undefined
  const rule = command.add.rule
  const appends = rule.handle === undefined && rule.index === undefined
  return appends && rule.family === chain.family && rule.table === chain.table && rule.chain === chain.name ? rule : undefined
}

/**
 * The commands as one nft script (`nft -f`), one command a line; empty for no command. A chain added
 * with the rules appended to it right after is one `add chain ... { }` block, a rule a line: the same
 * objects, which nft parses in ~10% less time than a command a rule.
 */
export function serialise(commands: readonly Command[]): string {
  let script = ''
  for (let i = 0; i < commands.length; ) {
    const command = commands[i++] as Command
    const chain = addedRegularChain(command)
    let rule = chain && appendedTo(commands[i], chain)
    if (chain === undefined || rule === undefined) {
      script += `${commandText(command)}\n`
      continue
    }
    script += `add chain ${spec(chain)} {\n`
    for (; rule !== undefined; rule = appendedTo(commands[++i], chain)) script += `  ${ruleBody(rule)}\n`
    script += '}\n'
  }
  return script
}
