/**
 * The small DER/PEM toolkit behind onechat's key files and CRL checks: a strict reader (definite
 * lengths, low tag numbers, bounded sizes), a few encoders for the structures onechat writes, and
 * PEM blocks (RFC 7468). Pure: no I/O, no crypto. Not a general ASN.1 library: anything unusual is
 * refused (`undefined`), never guessed at. No docs/protocol.md section: key files are local.
 */

/** Key files are small; anything larger is refused before parsing. */
export const MAX_PEM_CHARS = 16 * 1024

export interface PemBlock {
  readonly label: string
  readonly der: Uint8Array
}

/**
 * The first PEM block of `text` (RFC 7468, lax: text around the block and line breaks anywhere in
 * the base64 are allowed; headers such as "Proc-Type:" are not). `undefined` when there is none.
 */
export const decodePem = (text: string): PemBlock | undefined => {
  if (text.length > MAX_PEM_CHARS) return undefined
  const match = /-----BEGIN ([A-Z0-9 ]{1,64})-----([A-Za-z0-9+/=\s]*)-----END \1-----/.exec(text)
  const label = match?.[1]
  const body = match?.[2]?.replace(/\s+/g, "")
  if (label === undefined || body === undefined || body.length === 0) return undefined
  if (body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return undefined
  return { label, der: Uint8Array.from(Buffer.from(body, "base64")) }
}

/** DER bytes as a PEM block with the given label, 64 base64 characters per line. */
export const derToPemBlock = (der: Uint8Array, label: string): string => {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`
}

export interface DerElement {
  readonly tag: number
  /** The whole element: tag, length and contents. */
  readonly encoded: Uint8Array
  /** The contents only (a view into `encoded`). */
  readonly content: Uint8Array
}

/**
 * The children of a DER SEQUENCE that spans all of `der`, or `undefined` when `der` is not exactly
 * one well-formed SEQUENCE of well-formed elements (low tag numbers, definite lengths ≤ 2^24).
 */
export const readDerSequence = (der: Uint8Array): ReadonlyArray<DerElement> | undefined => {
  const outer = readDerElement(der, 0, der.length)
  if (outer === undefined || outer.tag !== 0x30 || outer.end !== der.length) return undefined
  return readDerChildren(der, outer.contentStart, outer.end)
}

/** The children of a constructed element (SEQUENCE, SET, [n] EXPLICIT), or `undefined`. */
export const readDerChildrenOf = (element: DerElement): ReadonlyArray<DerElement> | undefined =>
  (element.tag & 0x20) === 0 ? undefined : readDerChildren(element.content, 0, element.content.length)

/** Whether `der` is exactly one element whose constructed parts, at every depth, are well formed. */
export const isWellFormedDer = (der: Uint8Array, depth = 0): boolean => {
  const element = readDerElement(der, 0, der.length)
  if (element === undefined || element.end !== der.length || depth > 8) return false
  if ((element.tag & 0x20) === 0) return true
  const children = readDerChildren(der, element.contentStart, element.end)
  return children?.every((child) => isWellFormedDer(child.encoded, depth + 1)) ?? false
}

/**
 * The value of a DER INTEGER that is non-negative, minimally encoded and at most 2^48, or
 * `undefined` (key-file parameters are small; bigger numbers are refused, not rounded).
 */
export const readDerSmallInteger = (element: DerElement | undefined): number | undefined => {
  const bytes = element?.tag === 0x02 ? element.content : undefined
  if (bytes === undefined || bytes.length === 0 || bytes.length > 7) return undefined
  const first = bytes[0] ?? 0
  if (first & 0x80) return undefined // negative
  if (bytes.length > 1 && first === 0 && ((bytes[1] ?? 0) & 0x80) === 0) return undefined // not minimal
  let value = 0
  for (const byte of bytes) value = value * 256 + byte
  return value <= 2 ** 48 ? value : undefined
}

/** One DER element: `tag`, definite length, `content` (the caller keeps content well formed). */
export const derElement = (tag: number, ...content: ReadonlyArray<Uint8Array>): Uint8Array => {
  const length = content.reduce((sum, part) => sum + part.length, 0)
  if (length >= 2 ** 24) throw new RangeError(`DER content too long: ${length} bytes`)
  const header =
    length < 0x80
      ? [tag, length]
      : length < 0x100
        ? [tag, 0x81, length]
        : length < 0x10000
          ? [tag, 0x82, length >> 8, length & 0xff]
          : [tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]
  const out = new Uint8Array(header.length + length)
  out.set(header, 0)
  let offset = header.length
  for (const part of content) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

export const derSequence = (...children: ReadonlyArray<Uint8Array>): Uint8Array =>
  derElement(0x30, ...children)

export const derOctetString = (bytes: Uint8Array): Uint8Array => derElement(0x04, bytes)

/** A non-negative DER INTEGER, minimally encoded. */
export const derInteger = (value: number): Uint8Array => {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`Not a DER-encodable integer: ${value}`)
  const bytes: number[] = []
  for (let rest = value; bytes.length === 0 || rest > 0; rest = Math.floor(rest / 256))
    bytes.unshift(rest % 256)
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0)
  return derElement(0x02, Uint8Array.from(bytes))
}

/** A DER OBJECT IDENTIFIER from its encoded contents, written as hex (e.g. "2b6570" for 1.3.101.112). */
export const derOid = (contentHex: string): Uint8Array => derElement(0x06, Buffer.from(contentHex, "hex"))

const readDerChildren = (der: Uint8Array, start: number, end: number): DerElement[] | undefined => {
  const children: DerElement[] = []
  for (let offset = start; offset < end; ) {
    const child = readDerElement(der, offset, end)
    if (child === undefined) return undefined
    children.push({
      tag: child.tag,
      encoded: der.subarray(offset, child.end),
      content: der.subarray(child.contentStart, child.end),
    })
    offset = child.end
  }
  return children
}

const readDerElement = (
  der: Uint8Array,
  offset: number,
  limit: number,
): { tag: number; contentStart: number; end: number } | undefined => {
  const tag = der[offset]
  const first = der[offset + 1]
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) return undefined
  let length = first
  let contentStart = offset + 2
  if (first & 0x80) {
    const count = first & 0x7f
    if (count === 0 || count > 3) return undefined // indefinite or absurd lengths
    length = 0
    for (let i = 0; i < count; i++) {
      const byte = der[contentStart + i]
      if (byte === undefined) return undefined
      length = length * 256 + byte
    }
    contentStart += count
  }
  const end = contentStart + length
  return end <= limit ? { tag, contentStart, end } : undefined
}
