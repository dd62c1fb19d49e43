/**
 * Password-based encryption of PKCS#8 private keys: PKCS#5 v2.1 PBES2 (RFC 8018) inside an
 * EncryptedPrivateKeyInfo (RFC 5958 §3). Writes scrypt (RFC 7914 §7) + AES-256-CBC; reads that, or
 * the older PBKDF2 + AES-CBC files, reporting which. Pure: no I/O; salt and IV come from the
 * injected Random. Bounded: a file cannot make a reader spend more than 256 MiB or 10^7 PBKDF2
 * iterations. Never puts passphrases, derived keys or plaintext in results other than the plaintext.
 * No docs/protocol.md section: key files never cross the wire (format in docs/security.md, key files).
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync, scryptSync } from "node:crypto"
import { Result } from "effect"
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
import { bytesEqual, type Random, wipe } from "./primitives.ts"

// OBJECT IDENTIFIER contents, hex.
const OID_PBES2 = "2a864886f70d01050d" // 1.2.840.113549.1.5.13
const OID_PBKDF2 = "2a864886f70d01050c" // 1.2.840.113549.1.5.12
const OID_SCRYPT = "2b06010401da47040b" // 1.3.6.1.4.1.11591.4.11
const AES_CBC_OIDS = {
  "608648016503040102": "aes-128-cbc", // 2.16.840.1.101.3.4.1.2
  "608648016503040116": "aes-192-cbc", // 2.16.840.1.101.3.4.1.22
  "60864801650304012a": "aes-256-cbc", // 2.16.840.1.101.3.4.1.42
} as const
const HMAC_OIDS = {
  "2a864886f70d0207": "sha1", // hmacWithSHA1 1.2.840.113549.2.7 (the default when absent)
  "2a864886f70d0208": "sha224",
  "2a864886f70d0209": "sha256",
  "2a864886f70d020a": "sha384",
  "2a864886f70d020b": "sha512",
} as const

export type AesCbc = (typeof AES_CBC_OIDS)[keyof typeof AES_CBC_OIDS]
export type Pbkdf2Prf = (typeof HMAC_OIDS)[keyof typeof HMAC_OIDS]

/** How a key file is protected: public parameters only (no salt, no IV). */
export type KeyFileProtection =
  | {
      readonly kdf: "scrypt"
      readonly logN: number
      readonly r: number
      readonly p: number
      readonly cipher: AesCbc
    }
  | { readonly kdf: "pbkdf2"; readonly iterations: number; readonly prf: Pbkdf2Prf; readonly cipher: AesCbc }

/** scrypt cost written by default: N = 2^17, r = 8, p = 1 (about 128 MiB and 0.3–0.7 s per guess). */
export const DEFAULT_SCRYPT_LOG_N = 17
/** The cheapest N a writer accepts (test fixtures only): 2^10. */
export const MIN_SCRYPT_LOG_N = 10
const SCRYPT_R = 8
const SCRYPT_P = 1
/** Memory a reader or writer lets scrypt use (128 · r · (N + p + 2) bytes must fit). */
const SCRYPT_MAX_MEMORY = 256 * 1024 * 1024
const MAX_SCRYPT_P = 16
const MAX_PBKDF2_ITERATIONS = 10_000_000
const SALT_BYTES = 16
const AES_BLOCK_BYTES = 16
const MAX_CIPHERTEXT_BYTES = 4096

/** Whether `protection` meets onechat's bar (scrypt, N ≥ 2^17, r ≥ 8); anything else should be re-encrypted. */
export const isStrongProtection = (protection: KeyFileProtection): boolean =>
  protection.kdf === "scrypt" && protection.logN >= DEFAULT_SCRYPT_LOG_N && protection.r >= SCRYPT_R

/** Why an EncryptedPrivateKeyInfo cannot be opened. */
export type Pbes2Failure = "Malformed" | "Unsupported" | "WrongPassphrase"

/**
 * Encrypts a PKCS#8 PrivateKeyInfo as the DER of
 *   EncryptedPrivateKeyInfo { PBES2 { scrypt { salt[16], N = 2^logN, r = 8, p = 1, keyLength 32 },
 *                                      aes256-CBC { iv[16] } }, ciphertext }
 * Throws RangeError for an empty passphrase or a `scryptLogN` outside 10..17.
 */
export const encryptPrivateKeyInfo = (
  privateKeyInfo: Uint8Array,
  passphrase: string,
  options: { readonly random: Random; readonly scryptLogN: number },
): Uint8Array => {
  const { random, scryptLogN: logN } = options
  if (passphrase.length === 0)
    throw new RangeError("A private key must be encrypted with a non-empty passphrase")
  if (!Number.isInteger(logN) || logN < MIN_SCRYPT_LOG_N || logN > DEFAULT_SCRYPT_LOG_N) {
    throw new RangeError(`scrypt log2(N) must be ${MIN_SCRYPT_LOG_N}..${DEFAULT_SCRYPT_LOG_N}, got ${logN}`)
  }
  const salt = random(SALT_BYTES)
  const iv = random(AES_BLOCK_BYTES)
  const key = scrypt(passphrase, salt, 2 ** logN, SCRYPT_R, SCRYPT_P, 32)
  let ciphertext: Buffer
  try {
    const cipher = createCipheriv("aes-256-cbc", key, iv)
    ciphertext = Buffer.concat([cipher.update(privateKeyInfo), cipher.final()])
  } finally {
    wipe(key)
  }
  const scryptParams = derSequence(
    derOctetString(salt),
    derInteger(2 ** logN),
    derInteger(SCRYPT_R),
    derInteger(SCRYPT_P),
    derInteger(32),
  )
  const algorithm = derSequence(
    derOid(OID_PBES2),
    derSequence(
      derSequence(derOid(OID_SCRYPT), scryptParams),
      derSequence(derOid("60864801650304012a"), derOctetString(iv)),
    ),
  )
  return derSequence(algorithm, derElement(0x04, ciphertext))
}

interface ParsedPbes2 {
  readonly protection: KeyFileProtection
  readonly salt: Uint8Array
  readonly iv: Uint8Array
  readonly keyLength: number | undefined
  readonly ciphertext: Uint8Array
}

/** The public parameters of an EncryptedPrivateKeyInfo, without decrypting it. */
export const readProtection = (der: Uint8Array): Result.Result<KeyFileProtection, Pbes2Failure> =>
  Result.map(parseEncryptedPrivateKeyInfo(der), (parsed) => parsed.protection)

/**
 * Decrypts an EncryptedPrivateKeyInfo. "WrongPassphrase" when the CBC padding is wrong; a padding
 * that checks out by chance (about 1 in 256) yields garbage, which the caller must detect by
 * parsing the plaintext. The caller owns (and should wipe) the plaintext.
 */
export const decryptPrivateKeyInfo = (
  der: Uint8Array,
  passphrase: string,
): Result.Result<
  { readonly plaintext: Uint8Array; readonly protection: KeyFileProtection },
  Pbes2Failure
> => {
  const parsed = parseEncryptedPrivateKeyInfo(der)
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
  const { protection, salt, iv, ciphertext } = parsed.success
  const keyBytes = protection.cipher === "aes-128-cbc" ? 16 : protection.cipher === "aes-192-cbc" ? 24 : 32
  if (parsed.success.keyLength !== undefined && parsed.success.keyLength !== keyBytes) {
    return Result.fail("Malformed")
  }
  const key =
    protection.kdf === "scrypt"
      ? scrypt(passphrase, salt, 2 ** protection.logN, protection.r, protection.p, keyBytes)
      : pbkdf2Sync(passphrase, salt, protection.iterations, keyBytes, protection.prf)
  const parts: Buffer[] = []
  try {
    const decipher = createDecipheriv(protection.cipher, key, iv)
    parts.push(decipher.update(ciphertext)) // pushed first, so that it is wiped even when final() throws
    parts.push(decipher.final())
    const plaintext = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
    let offset = 0
    for (const part of parts) {
      plaintext.set(part, offset)
      offset += part.length
    }
    return Result.succeed({ plaintext, protection })
  } catch {
    return Result.fail("WrongPassphrase")
  } finally {
    wipe(key, ...parts)
  }
}

/** The derived key, as the Buffer node:crypto returned (so that wiping it wipes the only copy). */
const scrypt = (passphrase: string, salt: Uint8Array, N: number, r: number, p: number, length: number) =>
  scryptSync(passphrase, salt, length, { N, r, p, maxmem: SCRYPT_MAX_MEMORY })

const oidIs = (element: DerElement | undefined, contentHex: string): boolean =>
  element?.tag === 0x06 && bytesEqual(element.content, Buffer.from(contentHex, "hex"))

const oidHex = (element: DerElement | undefined): string | undefined =>
  element?.tag === 0x06 ? Buffer.from(element.content).toString("hex") : undefined

/** [OID, parameters?] of an AlgorithmIdentifier SEQUENCE, or undefined. */
const algorithmOf = (element: DerElement | undefined): ReadonlyArray<DerElement> | undefined => {
  if (element?.tag !== 0x30) return undefined
  const children = readDerChildrenOf(element)
  return children !== undefined && children.length >= 1 && children.length <= 2 && children[0]?.tag === 0x06
    ? children
    : undefined
}

const parseEncryptedPrivateKeyInfo = (der: Uint8Array): Result.Result<ParsedPbes2, Pbes2Failure> => {
  const [algorithm, encrypted, ...extra] = readDerSequence(der) ?? []
  const scheme = algorithmOf(algorithm)
  if (scheme === undefined || encrypted?.tag !== 0x04 || extra.length > 0) return Result.fail("Malformed")
  if (!oidIs(scheme[0], OID_PBES2)) return Result.fail("Unsupported") // e.g. PBES1, PKCS#12 PBE
  const params = scheme[1]?.tag === 0x30 ? readDerChildrenOf(scheme[1]) : undefined
  const kdf = algorithmOf(params?.[0])
  const encryption = algorithmOf(params?.[1])
  if (params?.length !== 2 || kdf === undefined || encryption === undefined) return Result.fail("Malformed")
  const cipherHex = oidHex(encryption[0]) ?? ""
  const cipher = cipherHex in AES_CBC_OIDS ? AES_CBC_OIDS[cipherHex as keyof typeof AES_CBC_OIDS] : undefined
  if (cipher === undefined) return Result.fail("Unsupported")
  const iv = encryption[1]
  if (iv?.tag !== 0x04 || iv.content.length !== AES_BLOCK_BYTES) return Result.fail("Malformed")
  const ciphertext = encrypted.content
  if (ciphertext.length === 0 || ciphertext.length % AES_BLOCK_BYTES !== 0) return Result.fail("Malformed")
  if (ciphertext.length > MAX_CIPHERTEXT_BYTES) return Result.fail("Malformed")
  const kdfParams = kdf[1]?.tag === 0x30 ? readDerChildrenOf(kdf[1]) : undefined
  if (kdfParams === undefined) return Result.fail("Malformed")
  const parsedKdf = oidIs(kdf[0], OID_SCRYPT)
    ? parseScrypt(kdfParams, cipher)
    : oidIs(kdf[0], OID_PBKDF2)
      ? parsePbkdf2(kdfParams, cipher)
      : Result.fail<Pbes2Failure>("Unsupported")
  return Result.map(parsedKdf, (k) => ({ ...k, iv: iv.content, ciphertext }))
}

type ParsedKdf = Result.Result<
  {
    readonly protection: KeyFileProtection
    readonly salt: Uint8Array
    readonly keyLength: number | undefined
  },
  Pbes2Failure
>

/** scrypt-params ::= SEQUENCE { salt OCTET STRING, N, r, p INTEGER, keyLength INTEGER OPTIONAL } */
const parseScrypt = (fields: ReadonlyArray<DerElement>, cipher: AesCbc): ParsedKdf => {
  const [salt, ...numbers] = fields
  const [N, r, p, keyLength] = numbers.map(readDerSmallInteger)
  if (salt?.tag !== 0x04 || salt.content.length === 0 || salt.content.length > 64)
    return Result.fail("Malformed")
  if (numbers.length < 3 || numbers.length > 4 || N === undefined || r === undefined || p === undefined) {
    return Result.fail("Malformed")
  }
  if (numbers.length === 4 && keyLength === undefined) return Result.fail("Malformed")
  const logN = Math.log2(N)
  if (!Number.isInteger(logN) || logN < 1 || r < 1 || p < 1) return Result.fail("Malformed")
  if (p > MAX_SCRYPT_P || 128 * r * (N + p + 2) > SCRYPT_MAX_MEMORY) return Result.fail("Unsupported")
  return Result.succeed({ protection: { kdf: "scrypt", logN, r, p, cipher }, salt: salt.content, keyLength })
}

/** PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf DEFAULT hmacWithSHA1 } */
const parsePbkdf2 = (fields: ReadonlyArray<DerElement>, cipher: AesCbc): ParsedKdf => {
  const [salt, count, ...optional] = fields
  const iterations = readDerSmallInteger(count)
  if (salt?.tag !== 0x04) return Result.fail(salt?.tag === 0x30 ? "Unsupported" : "Malformed") // otherSource
  if (salt.content.length === 0 || salt.content.length > 64 || iterations === undefined || iterations < 1) {
    return Result.fail("Malformed")
  }
  if (iterations > MAX_PBKDF2_ITERATIONS) return Result.fail("Unsupported")
  const keyLengthField = optional[0]?.tag === 0x02 ? optional.shift() : undefined
  const keyLength = keyLengthField === undefined ? undefined : readDerSmallInteger(keyLengthField)
  if (keyLengthField !== undefined && keyLength === undefined) return Result.fail("Malformed")
  const prfAlgorithm = optional.shift()
  if (optional.length > 0) return Result.fail("Malformed")
  let prf: Pbkdf2Prf = "sha1"
  if (prfAlgorithm !== undefined) {
    const algorithm = algorithmOf(prfAlgorithm)
    const hex = oidHex(algorithm?.[0]) ?? ""
    const parameters = algorithm?.[1]
    const isNull = parameters?.tag === 0x05 && parameters.content.length === 0
    if (algorithm === undefined || (parameters !== undefined && !isNull)) {
      return Result.fail("Malformed") // parameters are absent or NULL
    }
    if (!(hex in HMAC_OIDS)) return Result.fail("Unsupported")
    prf = HMAC_OIDS[hex as keyof typeof HMAC_OIDS]
  }
  return Result.succeed({
    protection: { kdf: "pbkdf2", iterations, prf, cipher },
    salt: salt.content,
    keyLength,
  })
}
