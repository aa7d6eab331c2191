// An exec: transport's command line, never split naively: a JSON array of argv, or shell-style
// words where quotes and backslashes mean what they mean to sh (no expansion of any kind).
import { shown, UNTRUSTED_KEY_LIMIT } from '../../common/untrusted-text.js'

export class CommandLineError extends Error {
  override name = 'CommandLineError'
}

function jsonArgv(untrusted: string): string[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(untrusted)
  } catch (err) {
    throw new CommandLineError(`not a JSON array: ${shown((err as Error).message, UNTRUSTED_KEY_LIMIT)}`)
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((word) => typeof word === 'string')) {
    throw new CommandLineError('a JSON command line must be a non-empty array of strings')
  }
  return parsed as string[]
}

/** sh's word splitting and quote removal: 'single', "double" (\\ \" \$ \` escaped), \x outside quotes. */
function shellWords(untrusted: string): string[] {
  const words: string[] = []
  let word: string | undefined
  let quote: "'" | '"' | undefined
  for (let i = 0; i < untrusted.length; i++) {
    const c = untrusted[i] as string
    if (quote === "'") {
      if (c === "'") quote = undefined
      else word = (word ?? '') + c
    } else if (quote === '"') {
      if (c === '"') quote = undefined
      else if (c === '\\' && '\\"$`'.includes(untrusted[i + 1] ?? '')) word = (word ?? '') + untrusted[++i]
      else word = (word ?? '') + c
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if (c === "'" || c === '"') {
      quote = c
      word ??= ''
    } else if (c === '\\') {
      if (i + 1 >= untrusted.length) throw new CommandLineError('a backslash at the end')
      word = (word ?? '') + untrusted[++i]
    } else {
      word = (word ?? '') + c
    }
  }
  if (quote !== undefined) throw new CommandLineError(`unbalanced ${quote === "'" ? 'single' : 'double'} quote`)
  if (word !== undefined) words.push(word)
  if (words.length === 0) throw new CommandLineError('no command')
  return words
}

export function parseCommandLine(untrusted: string): string[] {
  const text = untrusted.trim()
  return text.startsWith('[') ? jsonArgv(text) : shellWords(text)
}
