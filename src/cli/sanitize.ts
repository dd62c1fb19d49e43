/**
 * Making untrusted text (a peer's chat lines, names, server texts) safe to print on a terminal.
 * Pure: no I/O. Whatever could steer the terminal — C0/C1 controls, DEL, every ESC or 8-bit
 * control sequence (CSI, OSC incl. hyperlinks and titles, DCS, SOS, PM, APC, SS2/SS3, nF/Fp/Fe/Fs
 * escapes), bidi overrides and isolates (Trojan Source), lone surrogates — becomes one visible "�"
 * per control or whole sequence, so the reader sees that something was removed. A message is one
 * line: CR, LF, CRLF, U+2028 and U+2029 show as "↵"; tab becomes a space. Zero-width characters
 * (ZWSP, ZWNJ, ZWJ, word joiner, BOM) and the bidi marks LRM/RLM/ALM are kept: they cannot move
 * the cursor or reorder a run of text, and emoji sequences and Arabic/Persian/Hebrew need them.
 */

/** Shown in place of a removed control character or control sequence. */
export const REMOVED = "\uFFFD"
/** Shown in place of a line break inside a one-line message. */
export const LINE_BREAK = "\u21B5"

const BEL = 0x07
const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const ESC = 0x1b
const BACKSLASH = 0x5c
const DEL = 0x7f
const ST = 0x9c

/** 8-bit C1 introducers of control strings: DCS, SOS, OSC, PM, APC. */
const C1_STRINGS = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f])
/** 7-bit equivalents after ESC: P (DCS), X (SOS), ] (OSC), ^ (PM), _ (APC). */
const ESC_STRINGS = new Set([0x50, 0x58, 0x5d, 0x5e, 0x5f])

const inRange = (code: number, low: number, high: number): boolean => code >= low && code <= high

const isBidiControl = (code: number): boolean =>
  inRange(code, 0x202a, 0x202e) || inRange(code, 0x2066, 0x2069)

const isLineBreak = (code: number): boolean =>
  code === LF || code === CR || code === 0x2028 || code === 0x2029

/** Index after `text[from..]`'s run of characters whose codes lie in [low, high]. */
const skipRange = (text: string, from: number, low: number, high: number): number => {
  let index = from
  while (inRange(text.charCodeAt(index), low, high)) index++
  return index
}

/** CSI body: parameters 0x30–0x3F, intermediates 0x20–0x2F, one final 0x40–0x7E. Stops early on anything else. */
const csiEnd = (text: string, from: number): number => {
  const end = skipRange(text, skipRange(text, from, 0x30, 0x3f), 0x20, 0x2f)
  return inRange(text.charCodeAt(end), 0x40, 0x7e) ? end + 1 : end
}

/**
 * Control string body (OSC, DCS, ...): runs to BEL, ST, ESC \ or the end of the text, as a
 * terminal would swallow it. Another ESC ends it and starts a sequence of its own.
 */
const controlStringEnd = (text: string, from: number): number => {
  for (let index = from; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code === BEL || code === ST) return index + 1
    if (code === ESC) return text.charCodeAt(index + 1) === BACKSLASH ? index + 2 : index
  }
  return text.length
}

/** SS2/SS3 take the next printable ASCII character with them (ESC O P is the F1 key). */
const singleShiftEnd = (text: string, from: number): number =>
  inRange(text.charCodeAt(from), 0x20, 0x7e) ? from + 1 : from

/** After ESC: a CSI, a control string, a single shift, or intermediates plus one final byte. */
const escapeEnd = (text: string, from: number): number => {
  const next = text.charCodeAt(from)
  if (next === 0x5b) return csiEnd(text, from + 1)
  if (ESC_STRINGS.has(next)) return controlStringEnd(text, from + 1)
  if (next === 0x4e || next === 0x4f) return singleShiftEnd(text, from + 1)
  const end = skipRange(text, from, 0x20, 0x2f)
  return inRange(text.charCodeAt(end), 0x30, 0x7e) ? end + 1 : end
}

/** Where the control sequence introduced at `index` ends, or undefined if none starts there. */
const sequenceEnd = (text: string, index: number): number | undefined => {
  const code = text.charCodeAt(index)
  if (code === ESC) return escapeEnd(text, index + 1)
  if (code === 0x9b) return csiEnd(text, index + 1)
  if (C1_STRINGS.has(code)) return controlStringEnd(text, index + 1)
  if (code === 0x8e || code === 0x8f) return singleShiftEnd(text, index + 1)
  return undefined
}

/** The display form of one code point that does not start a sequence. */
const displayCodePoint = (code: number): string => {
  if (code === TAB) return " "
  if (isLineBreak(code)) return LINE_BREAK
  if (code < 0x20 || inRange(code, DEL, 0x9f) || isBidiControl(code) || inRange(code, 0xd800, 0xdfff)) {
    return REMOVED
  }
  return String.fromCodePoint(code)
}

/**
 * Returns `text` as one line that is safe to write to a terminal: no control characters, no
 * escape sequences, no bidi overrides; each removal shows as "�", each line break as "↵".
 * Idempotent, and printable ASCII without controls passes unchanged.
 */
export const sanitizeForTerminal = (text: string): string => {
  let shown = ""
  let index = 0
  while (index < text.length) {
    const end = sequenceEnd(text, index)
    if (end !== undefined) {
      shown += REMOVED
      index = end
      continue
    }
    const code = text.codePointAt(index)!
    // CRLF is one line break, not two.
    const width = code === CR && text.charCodeAt(index + 1) === LF ? 2 : code > 0xffff ? 2 : 1
    shown += displayCodePoint(code)
    index += width
  }
  return shown
}

/**
 * A user name made safe to print. The protocol already restricts names; this is defence in depth
 * and the same transformation as {@link sanitizeForTerminal}.
 */
export const sanitizeName = (name: string): string => sanitizeForTerminal(name)
