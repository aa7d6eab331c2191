// The one way untrusted text appears in a message or a log line: cut to a fixed length, the cut
// marked, and every control character replaced, so a value can neither flood a line, forge a second
// one (newline) nor drive the terminal that shows it (ESC).

/** How much of an untrusted value a message shows: enough to recognise a word, an option or an address. */
export const UNTRUSTED_TEXT_LIMIT = 60
/** For what must stay recognisable as a whole: a QubesDB key or path, or a parser's message that quotes the text. */
export const UNTRUSTED_KEY_LIMIT = 120

/** Marks a cut; never in any value we accept, so it cannot be mistaken for part of one. */
const CUT = '…'
// C0, DEL, C1, and the two Unicode line breaks: each would break or steer the line it is shown in
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g

/**
 * `untrusted` as a message may show it: at most `limit` characters, then `…` if there were more,
 * and each control character as `?`. Characters are code points: a cut never splits a surrogate pair.
 */
export function shown(untrusted: string, limit: number = UNTRUSTED_TEXT_LIMIT): string {
  let text = untrusted
  let cut = false
  if (untrusted.length > limit) {
    // a code point is one or two code units: twice the limit holds `limit` whole code points
    const codePoints = Array.from(untrusted.slice(0, 2 * limit))
    cut = codePoints.length > limit || untrusted.length > 2 * limit
    text = codePoints.slice(0, limit).join('')
  }
  return `${text.replace(CONTROL, '?')}${cut ? CUT : ''}`
}
