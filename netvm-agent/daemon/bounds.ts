// What one request may cost, checked on its text before JSON.parse builds anything: a request is
// an object of at most two levels (`{"op":..,"entries":{..}}`, `{"op":"remove","ips":[..]}`), and
// holds no more values than a push may have entries. One linear pass, so a 60 MB line of `[[[[`
// or a remove of millions of addresses is refused in milliseconds, not parsed for seconds.
import { LIMITS } from '../push/limits.js'

export const REQUEST_LIMITS = { depth: 2, values: LIMITS.entries } as const

/** Why the request's shape is out of bounds, or undefined when it is within them. */
export function requestShapeProblem(untrustedLine: string, limits: { depth: number; values: number } = REQUEST_LIMITS): string | undefined {
  let depth = 0
  let values = 0
  let inString = false
  for (let i = 0; i < untrustedLine.length; i++) {
    const c = untrustedLine.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
      continue
    }
    if (c === 0x22) inString = true
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limits.depth) return `request nested deeper than ${limits.depth} levels`
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--
    else if (c === 0x2c /* , */ && ++values > limits.values) return `request holds more than ${limits.values} values`
  }
  return undefined
}
