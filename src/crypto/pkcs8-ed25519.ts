/**
 * The plaintext inside an onechat key file: an Ed25519 PrivateKeyInfo (PKCS#8, RFC 5958 and RFC
 * 8410) that also carries the public key as a PKCS#9 localKeyID attribute, so that a damaged
 * ciphertext is caught after decryption (PBES2's AES-CBC has no integrity tag). OpenSSL reads it
 * (v1 structure; attributes are allowed). Pure: no I/O. No docs/protocol.md section.
 */
import {
  type DerElement,
  derElement,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  readDerChildrenOf,
  readDerSequence,
  readDerSmallInteger,
} from "./der.ts"
import { bytesEqual, ED25519_SEED_BYTES, ed25519FromSeed, wipe } from "./primitives.ts"

/** AlgorithmIdentifier { id-Ed25519 } (RFC 8410 §3: parameters absent). */
const ED25519_ALGORITHM = Uint8Array.from(Buffer.from("300506032b6570", "hex"))
/** PKCS#9 localKeyID (1.2.840.113549.1.9.21): onechat stores the raw public key in it. */
const OID_LOCAL_KEY_ID = "2a864886f70d010915"

/**
 * PrivateKeyInfo { version 0, id-Ed25519, OCTET STRING { OCTET STRING seed[32] },
 * [0] { Attribute { localKeyID, SET { OCTET STRING publicKey[32] } } } } (99 bytes). Wipe it after use.
 */
export const ed25519PrivateKeyInfo = (seed: Uint8Array, publicKey: Uint8Array): Uint8Array =>
  derSequence(
    derInteger(0),
    ED25519_ALGORITHM,
    derOctetString(derOctetString(seed)),
    derElement(0xa0, derSequence(derOid(OID_LOCAL_KEY_ID), derElement(0x31, derOctetString(publicKey)))),
  )

/**
 * The 32-byte seed (a view into `der`) of a decrypted PrivateKeyInfo / OneAsymmetricKey
 * (RFC 5958, RFC 8410) holding an Ed25519 key. When the file stores the public key (attributes
 * with a localKeyID, as onechat writes, or the v2 publicKey field), the seed must produce it:
 * this is what catches a damaged ciphertext, since CBC has no integrity tag. Anything that is not
 * such a structure is taken for the garbage a wrong passphrase produces.
 */
export const ed25519SeedOf = (der: Uint8Array): Uint8Array | "WrongPassphrase" | "NotEd25519" | "Damaged" => {
  const [versionField, algorithm, privateKey, ...optional] = readDerSequence(der) ?? []
  const version = readDerSmallInteger(versionField)
  const oid = algorithm?.tag === 0x30 ? readDerChildrenOf(algorithm)?.[0] : undefined
  if ((version !== 0 && version !== 1) || oid?.tag !== 0x06 || privateKey?.tag !== 0x04) {
    return "WrongPassphrase"
  }
  if (!bytesEqual(algorithm?.encoded ?? new Uint8Array(0), ED25519_ALGORITHM)) return "NotEd25519"
  const inner = privateKey.content
  const attributes = optional[0]?.tag === 0xa0 ? optional.shift() : undefined
  const publicField = optional[0]?.tag === 0x81 ? optional.shift() : undefined
  const ids = attributes === undefined ? [] : localKeyIds(attributes)
  if (
    inner.length !== 2 + ED25519_SEED_BYTES ||
    inner[0] !== 0x04 ||
    inner[1] !== ED25519_SEED_BYTES ||
    optional.length > 0 ||
    (version === 1) !== (publicField !== undefined) ||
    ids === undefined
  ) {
    return "WrongPassphrase"
  }
  const seed = inner.subarray(2)
  if (attributes === undefined && publicField === undefined) return seed // as OpenSSL and onechat v2 write
  const { publicKey, secretKey } = ed25519FromSeed(seed)
  wipe(secretKey)
  const matches =
    (attributes === undefined || (ids.length > 0 && ids.every((id) => bytesEqual(id, publicKey)))) &&
    (publicField === undefined || bytesEqual(publicField.content, Uint8Array.of(0, ...publicKey)))
  return matches ? seed : "Damaged"
}

/**
 * The values of the PKCS#9 localKeyID attributes in `[0] attributes` (other attributes are
 * skipped), or `undefined` when the attributes are not well formed.
 */
const localKeyIds = (attributes: DerElement): Uint8Array[] | undefined => {
  const list = readDerChildrenOf(attributes)
  if (list === undefined) return undefined
  const ids: Uint8Array[] = []
  for (const attribute of list) {
    const [type, values, ...extra] = attribute.tag === 0x30 ? (readDerChildrenOf(attribute) ?? []) : []
    const members = values?.tag === 0x31 ? readDerChildrenOf(values) : undefined
    if (type?.tag !== 0x06 || members === undefined || extra.length > 0) return undefined
    if (!bytesEqual(type.encoded, derOid(OID_LOCAL_KEY_ID))) continue
    for (const member of members) {
      if (member.tag !== 0x04) return undefined
      ids.push(member.content)
    }
  }
  return ids
}
