/**
 * sanitizeForTerminal: a table of hostile inputs with their exact display forms, then properties
 * over arbitrary strings biased towards control characters and escape-sequence fragments.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { sanitizeForTerminal, sanitizeName } from "../../src/cli/sanitize.ts"

const cases: ReadonlyArray<readonly [string, string, string]> = [
  ["SGR colour", "\x1b[31mred\x1b[0m", "\uFFFDred\uFFFD"],
  ["OSC title with BEL", "\x1b]0;pwned\x07title", "\uFFFDtitle"],
  ["OSC 8 hyperlink with ST", "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "\uFFFDlink\uFFFD"],
  ["8-bit CSI", "\x9b31m", "\uFFFD"],
  ["8-bit OSC ended by 8-bit ST", "\x9d0;pwned\x9cafter", "\uFFFDafter"],
  ["DCS", "\x1bPq#0;2;0;0;0\x1b\\after", "\uFFFDafter"],
  ["8-bit DCS", "\x90payload\x9cafter", "\uFFFDafter"],
  ["unterminated OSC swallows the rest", "\x1b]0;title", "\uFFFD"],
  ["unterminated CSI", "\x1b[31", "\uFFFD"],
  ["CSI broken by a newline", "\x1b[31\nx", "\uFFFD\u21B5x"],
  ["cursor movement and clear screen", "a\x1b[2J\x1b[Hb", "a\uFFFD\uFFFDb"],
  ["private CSI (hide cursor)", "\x1b[?25lx", "\uFFFDx"],
  ["full reset", "\x1bcx", "\uFFFDx"],
  ["charset switch", "\x1b(0qqq", "\uFFFDqqq"],
  ["SS3 with its character", "\x1bOPx", "\uFFFDx"],
  ["8-bit SS2", "\x8eAx", "\uFFFDx"],
  ["ESC alone", "\x1b", "\uFFFD"],
  ["ESC ESC", "\x1b\x1b[1m", "\uFFFD\uFFFD"],
  ["NEL (C1)", "a\x85b", "a\uFFFDb"],
  ["carriage return", "a\rb", "a\u21B5b"],
  ["newline", "line1\nline2", "line1\u21B5line2"],
  ["CRLF is one break", "a\r\nb", "a\u21B5b"],
  ["Unicode line separator", "a\u2028b", "a\u21B5b"],
  ["bidi override", "\u202eevil\u202c", "\uFFFDevil\uFFFD"],
  ["bidi isolates", "\u2066x\u2069\u2067y\u2068", "\uFFFDx\uFFFD\uFFFDy\uFFFD"],
  ["bell", "\x07bell", "\uFFFDbell"],
  ["NUL", "\x00nul", "\uFFFDnul"],
  ["backspace", "ab\x08c", "ab\uFFFDc"],
  ["DEL", "\x7fdel", "\uFFFDdel"],
  ["tab", "tab\there", "tab here"],
  ["lone surrogate", "a\ud800b", "a\uFFFDb"],
  ["plain unicode", "héllo 👋 日本", "héllo 👋 日本"],
  ["ZWJ emoji sequence kept", "👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"],
  ["RLM kept for RTL text", "שלום\u200f!", "שלום\u200f!"],
  ["replacement marks pass", "\uFFFD\u21B5", "\uFFFD\u21B5"],
  ["empty", "", ""],
]

describe("sanitizeForTerminal", () => {
  it.each(cases)("%s", (_name, input, expected) => {
    expect(sanitizeForTerminal(input)).toBe(expected)
  })

  it("sanitizeName is the same transformation", () => {
    for (const [, input, expected] of cases) expect(sanitizeName(input)).toBe(expected)
  })
})

/** Characters and fragments that build control sequences, mixed with arbitrary code points. */
const hostileUnit = fc.oneof(
  fc.constantFrom(
    "\x1b",
    "[",
    "]",
    "\\",
    "P",
    "O",
    ";",
    "0",
    "m",
    "\x07",
    "\x9b",
    "\x9c",
    "\x9d",
    "\x90",
    "\x8f",
    "\r",
    "\n",
    "\t",
    "\x7f",
    "\u202e",
    "\u2066",
    "\ud800",
  ),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
)
const hostileText = fc.string({ unit: hostileUnit, maxLength: 60 })

/** C0 but tab, DEL, C1, bidi embeddings/overrides/isolates: what must never reach the terminal. */
const isForbidden = (code: number): boolean =>
  (code <= 0x1f && code !== 0x09) ||
  (code >= 0x7f && code <= 0x9f) ||
  (code >= 0x202a && code <= 0x202e) ||
  (code >= 0x2066 && code <= 0x2069)

const forbiddenIn = (text: string): string[] =>
  Array.from(text).filter((char) => isForbidden(char.codePointAt(0)!))

describe("sanitizeForTerminal properties", () => {
  it("never lets a control character or bidi control through", () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        expect(forbiddenIn(sanitizeForTerminal(text))).toEqual([])
      }),
      { numRuns: 2000 },
    )
  })

  it("is idempotent", () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        const once = sanitizeForTerminal(text)
        expect(sanitizeForTerminal(once)).toBe(once)
      }),
      { numRuns: 2000 },
    )
  })

  it("leaves printable ASCII unchanged", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme-ascii" }), (text) => {
        expect(sanitizeForTerminal(text)).toBe(text)
      }),
    )
  })
})
