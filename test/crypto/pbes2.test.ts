/**
 * Tests for src/crypto/pbes2.ts through the key-file API: the exact PBES2 / scrypt / AES-256-CBC
 * layout at the default cost (N = 2^17, r = 8, p = 1), what `openssl asn1parse` shows, files
 * exchanged with OpenSSL both ways, an independent reader (Python cryptography) at the default
 * cost, and parameters refused before any key derivation. Tests needing openssl declare it
 * (testkit/system-tools.ts: installed by the test setup as root, else skipped with one line); the
 * Python reader is skipped where python3 lacks `cryptography`. The default-cost file is made once.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { createPrivateKey } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { derInteger, derOctetString, derOid, derSequence } from "../../src/crypto/der.ts"
import {
  decodePem,
  derToPemBlock,
  encryptedPrivateKeyProtection,
  exportEncryptedPrivateKeyPem,
  exportPublicKeyPem,
  identityFromSeed,
  importEncryptedPrivateKeyPem,
  type KeyFileErrorReason,
  readEncryptedPrivateKeyPem,
} from "../../src/crypto/identity.ts"
import { seededRandom } from "../../testkit/random.ts"
import { needs } from "../../testkit/system-tools.ts"

const hex = (text: string) => Uint8Array.from(Buffer.from(text, "hex"))
// RFC 8032 §7.1, TEST 1.
const RFC8032_SEED = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
const RFC8032_PUBLIC = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
const PASSPHRASE = "correct horse battery staple"
// The RFC 8032 seed as onechat v2 wrote it (PBES2: PBKDF2-HMAC-SHA256 × 2048, AES-256-CBC).
const FIXTURE_PEM = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGjMF8GCSqGSIb3DQEFDTBSMDEGCSqGSIb3DQEFDDAkBBDIdd/ENZMwl+90ammR
9/LzAgIIADAMBggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBKgQQVa94Pcq9npIK0rGW
JTQT3ARAut8KClv9kFarba/T29veTOP9wnL77uvIw6e4fgaKmNiyVwNepgrQ9kfR
yjMUM8QXhq+WmUFomJul02DQioHFrA==
-----END ENCRYPTED PRIVATE KEY-----
`

const expectFailure = <A>(result: Result.Result<A, { reason: string }>, reason: KeyFileErrorReason) => {
  if (!Result.isFailure(result)) throw new Error(`expected ${reason}, but the key file was accepted`)
  expect(result.failure.reason).toBe(reason)
}

// One file at the default cost (scrypt 2^17: ~0.5–1 s to write and as long to read), made once.
let defaultCostPem: string | undefined
const defaultCostFile = () => {
  defaultCostPem ??= exportEncryptedPrivateKeyPem(identityFromSeed(RFC8032_SEED), PASSPHRASE, {
    random: seededRandom("default cost"),
  })
  return defaultCostPem
}
const hasTool = (command: string, args: ReadonlyArray<string>) => spawnSync(command, args).status === 0
const HAS_PY_CRYPTOGRAPHY = hasTool("python3", ["-c", "import cryptography"])
const scratch = mkdtempSync(join(tmpdir(), "onechat-pbes2-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
const scratchFile = (name: string, text: string) => {
  const path = join(scratch, name)
  writeFileSync(path, text, { mode: 0o600 })
  return path
}
const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
/** EncryptedPrivateKeyInfo with PBES2 { kdf, aes-256-cbc }, from its parts (for refusal tests). */
const pbes2File = (kdf: Uint8Array, ciphertext = new Uint8Array(64)) =>
  derToPemBlock(
    derSequence(
      derSequence(
        derOid("2a864886f70d01050d"),
        derSequence(kdf, derSequence(derOid("60864801650304012a"), derOctetString(new Uint8Array(16)))),
      ),
      derOctetString(ciphertext),
    ),
    "ENCRYPTED PRIVATE KEY",
  )

describe("key file protection: PBES2 with scrypt", { timeout: 30_000 }, () => {
  it("writes PBES2 / scrypt (salt 16 B, N = 2^17, r = 8, p = 1, keyLength 32) / AES-256-CBC, byte for byte", () => {
    const der = decodePem(defaultCostFile())?.der ?? new Uint8Array(0)
    // SEQUENCE { SEQUENCE { PBES2, SEQUENCE { SEQUENCE { id-scrypt, SEQUENCE { salt, N, r, p, keyLength } },
    //            SEQUENCE { aes256-CBC, iv } } }, OCTET STRING ciphertext (99 B PrivateKeyInfo + 13 B padding) }
    expect(hexOf(der)).toMatch(
      new RegExp(
        "^3081cf305b06092a864886f70d01050d304e302d06092b06010401da47040b3020" +
          "0410[0-9a-f]{32}020302000002010802010102012030" +
          "1d060960864801650304012a0410[0-9a-f]{32}0470[0-9a-f]{224}$",
      ),
    )
    const file = readEncryptedPrivateKeyPem(defaultCostFile(), PASSPHRASE)
    if (Result.isFailure(file)) throw new Error(file.failure.message)
    expect(file.success.key.publicKey).toEqual(RFC8032_PUBLIC)
    expect(file.success.strong).toBe(true)
    expect(file.success.protection).toEqual({ kdf: "scrypt", logN: 17, r: 8, p: 1, cipher: "aes-256-cbc" })
    const protection = encryptedPrivateKeyProtection(defaultCostFile())
    expect(Result.isSuccess(protection) && protection.success).toEqual(file.success.protection)
  })

  it(
    "openssl asn1parse shows PBES2, scrypt with N = 2^17, r = 8, p = 1, and aes-256-cbc",
    needs("openssl"),
    () => {
      const text = execFileSync(
        "openssl",
        ["asn1parse", "-in", scratchFile("default.pem", defaultCostFile())],
        {
          encoding: "utf8",
        },
      )
      const values = [...text.matchAll(/:(\S+)\s*$/gm)].map((match) => match[1])
      expect(values.slice(0, 8)).toEqual([
        "PBES2",
        "scrypt",
        expect.any(String),
        "020000",
        "08",
        "01",
        "20",
        "aes-256-cbc",
      ])
    },
  )

  it(
    "openssl decrypts what onechat writes (at a cost its 32 MiB scrypt cap allows)",
    needs("openssl"),
    () => {
      // OpenSSL ≤ 3.5 caps scrypt in PKCS#8 at 32 MiB, below N = 2^17, r = 8 (128 MiB): see the
      // next test. The format is the same at any cost, so interoperability is checked at 2^14.
      const pem = exportEncryptedPrivateKeyPem(identityFromSeed(RFC8032_SEED), PASSPHRASE, { scryptLogN: 14 })
      const publicPem = execFileSync(
        "openssl",
        ["pkey", "-in", scratchFile("cheap.pem", pem), "-passin", `pass:${PASSPHRASE}`, "-pubout"],
        { encoding: "utf8" },
      )
      expect(publicPem).toBe(exportPublicKeyPem(RFC8032_PUBLIC))
      const run = spawnSync("openssl", [
        "pkey",
        "-in",
        scratchFile("cheap.pem", pem),
        "-passin",
        "pass:hunter2",
      ])
      expect(run.status).not.toBe(0)
    },
  )

  it(
    "onechat reads what `openssl pkcs8 -topk8 -scrypt` and `-v2 aes-256-cbc` write, as weak",
    needs("openssl"),
    () => {
      const plain = scratchFile(
        "plain.pem",
        createPrivateKey({
          key: Buffer.from(decodePem(FIXTURE_PEM)?.der ?? []),
          format: "der",
          type: "pkcs8",
          passphrase: PASSPHRASE,
        })
          .export({ type: "pkcs8", format: "pem" })
          .toString(),
      )
      const convert = (extra: ReadonlyArray<string>) =>
        execFileSync(
          "openssl",
          ["pkcs8", "-topk8", "-in", plain, "-passout", `pass:${PASSPHRASE}`, ...extra],
          {
            encoding: "utf8",
          },
        )
      const scrypt = readEncryptedPrivateKeyPem(convert(["-scrypt"]), PASSPHRASE)
      if (Result.isFailure(scrypt)) throw new Error(scrypt.failure.message)
      expect(scrypt.success.key.publicKey).toEqual(RFC8032_PUBLIC)
      expect(scrypt.success.protection).toMatchObject({ kdf: "scrypt", logN: 14, r: 8, p: 1 })
      expect(scrypt.success.strong).toBe(false)
      const pbkdf2 = readEncryptedPrivateKeyPem(convert(["-v2", "aes-256-cbc"]), PASSPHRASE)
      expect(Result.isSuccess(pbkdf2) && pbkdf2.success.protection.kdf).toBe("pbkdf2")
    },
  )

  it.runIf(HAS_PY_CRYPTOGRAPHY)(
    "an independent reader (Python cryptography) decrypts the default-cost file",
    () => {
      const script =
        "import sys\nfrom cryptography.hazmat.primitives import serialization as s\n" +
        "k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), sys.argv[2].encode())\n" +
        "print(k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw).hex())"
      const out = execFileSync(
        "python3",
        ["-c", script, scratchFile("py.pem", defaultCostFile()), PASSPHRASE],
        {
          encoding: "utf8",
        },
      )
      expect(out.trim()).toBe(hexOf(RFC8032_PUBLIC))
    },
  )

  it("refuses other schemes, and parameters that would cost too much, before deriving anything", () => {
    const salt = derOctetString(new Uint8Array(16))
    const scrypt = (n: number, r = 8, p = 1) =>
      derSequence(
        derOid("2b06010401da47040b"),
        derSequence(salt, derInteger(n), derInteger(r), derInteger(p)),
      )
    const pbkdf2 = (iterations: number) =>
      derSequence(derOid("2a864886f70d01050c"), derSequence(salt, derInteger(iterations)))
    const pbes1 = decodePem(FIXTURE_PEM)?.der.slice() ?? new Uint8Array(0)
    pbes1[15] = 0x03 // id-PBES2 (…1.5.13) becomes pbeWithMD2AndDES-CBC (…1.5.3)
    const started = performance.now()
    for (const pem of [
      pbes2File(scrypt(2 ** 20)), // 1 GiB
      pbes2File(scrypt(2 ** 17, 16)), // 256 MiB + 4 KiB
      pbes2File(scrypt(2 ** 10, 8, 64)),
      pbes2File(pbkdf2(2 ** 31)),
      derToPemBlock(pbes1, "ENCRYPTED PRIVATE KEY"),
    ]) {
      expectFailure(importEncryptedPrivateKeyPem(pem, PASSPHRASE), "Unsupported")
    }
    expect(performance.now() - started).toBeLessThan(500)
    for (const pem of [
      pbes2File(scrypt(3 * 2 ** 10)), // N not a power of two
      pbes2File(scrypt(2 ** 10), new Uint8Array(63)), // not whole AES blocks
      pbes2File(scrypt(2 ** 10, 0)),
    ]) {
      expectFailure(importEncryptedPrivateKeyPem(pem, PASSPHRASE), "Malformed")
    }
  })
})
