/**
 * Mutations of valid encodings, as data (so a failing case prints readably and replays from its
 * seed): bit flips, byte overwrites, truncations, extensions, insertions, deletions, duplicated
 * segments, splices with another encoding, and edits of known length fields. Test-only; pure.
 */
import fc from "fast-check"

/** A length field inside an encoding: its offset and width in bytes (big-endian). */
export interface LengthField {
  readonly offset: number
  readonly width: 1 | 2 | 4
}

/** A valid encoding and where its length fields are. */
export interface Sample {
  readonly bytes: Uint8Array
  readonly lengthFields: ReadonlyArray<LengthField>
}

/** Values a length field is set to: boundaries around the true value, the extremes, or anything. */
export type LengthEdit = "zero" | "one" | "minusOne" | "plusOne" | "max" | "half" | number

export type Mutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "set"; readonly at: number; readonly value: number }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "extend"; readonly bytes: Uint8Array }
  | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: "delete"; readonly at: number; readonly length: number }
  | { readonly kind: "duplicate"; readonly at: number; readonly length: number }
  | { readonly kind: "splice"; readonly at: number; readonly from: number }
  | { readonly kind: "length"; readonly field: number; readonly edit: LengthEdit }

const boundaryByte = fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x17, 0x20, 0x7e, 0x7f, 0x80, 0xfe, 0xff)

/** One mutation; positions are reduced modulo the length they apply to. */
export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("flip"), at: fc.nat(), bit: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("set"),
      at: fc.nat(),
      value: fc.oneof(boundaryByte, fc.nat(255)),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("truncate"), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("extend"), bytes: fc.uint8Array({ maxLength: 40 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("insert"),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("delete"),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 40 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("duplicate"),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 80 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("splice"), at: fc.nat(), from: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("length"),
      field: fc.nat(),
      edit: fc.oneof(
        fc.constantFrom<LengthEdit>("zero", "one", "minusOne", "plusOne", "max", "half"),
        fc.nat(0xffff),
      ),
    }),
  },
)

/** 1 to `max` mutations. */
export const mutationsArbitrary = (max = 4): fc.Arbitrary<ReadonlyArray<Mutation>> =>
  fc.array(mutationArbitrary, { minLength: 1, maxLength: max })

const readField = (bytes: Uint8Array, field: LengthField): number => {
  let value = 0
  for (let i = 0; i < field.width; i++) value = value * 256 + bytes[field.offset + i]!
  return value
}

const writeField = (bytes: Uint8Array, field: LengthField, value: number): void => {
  let rest = value
  for (let i = field.width - 1; i >= 0; i--) {
    bytes[field.offset + i] = rest % 256
    rest = Math.floor(rest / 256)
  }
}

const editedLength = (current: number, width: 1 | 2 | 4, edit: LengthEdit): number => {
  const max = 2 ** (8 * width) - 1
  const value =
    edit === "zero"
      ? 0
      : edit === "one"
        ? 1
        : edit === "minusOne"
          ? current - 1
          : edit === "plusOne"
            ? current + 1
            : edit === "max"
              ? max
              : edit === "half"
                ? Math.floor(current / 2)
                : edit
  return ((value % (max + 1)) + max + 1) % (max + 1)
}

const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const applyOne = (bytes: Uint8Array, mutation: Mutation, other: Uint8Array): Uint8Array => {
  const n = bytes.length
  switch (mutation.kind) {
    case "flip": {
      if (n === 0) return bytes
      const out = Uint8Array.from(bytes)
      out[mutation.at % n]! ^= 1 << mutation.bit
      return out
    }
    case "set": {
      if (n === 0) return bytes
      const out = Uint8Array.from(bytes)
      out[mutation.at % n] = mutation.value
      return out
    }
    case "truncate":
      return bytes.slice(0, mutation.at % (n + 1))
    case "extend":
      return concat(bytes, mutation.bytes)
    case "insert": {
      const at = mutation.at % (n + 1)
      return concat(bytes.subarray(0, at), mutation.bytes, bytes.subarray(at))
    }
    case "delete": {
      const at = mutation.at % (n + 1)
      return concat(bytes.subarray(0, at), bytes.subarray(at + mutation.length))
    }
    case "duplicate": {
      const at = mutation.at % (n + 1)
      const segment = bytes.subarray(at, at + mutation.length)
      return concat(bytes.subarray(0, at + segment.length), segment, bytes.subarray(at + segment.length))
    }
    case "splice": {
      const at = mutation.at % (n + 1)
      return concat(bytes.subarray(0, at), other.subarray(mutation.from % (other.length + 1)))
    }
    case "length":
      return bytes // applied first, by applyMutations
  }
}

/**
 * Applies `mutations` to `sample`: length-field edits first (their offsets refer to the valid
 * encoding), then the others in order. `other` is the donor of splices.
 */
export const applyMutations = (
  sample: Sample,
  mutations: ReadonlyArray<Mutation>,
  other: Uint8Array = new Uint8Array(0),
): Uint8Array => {
  let bytes: Uint8Array = Uint8Array.from(sample.bytes)
  const fields = sample.lengthFields
  for (const mutation of mutations) {
    if (mutation.kind !== "length" || fields.length === 0) continue
    const field = fields[mutation.field % fields.length]!
    if (field.offset + field.width > bytes.length) continue
    writeField(bytes, field, editedLength(readField(bytes, field), field.width, mutation.edit))
  }
  for (const mutation of mutations) bytes = applyOne(bytes, mutation, other)
  return bytes
}

/** True when two byte strings are equal. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), b) === 0
