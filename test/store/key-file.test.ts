/**
 * Tests for src/store/key-file.ts: a private key file that group or others may access is refused
 * before it is read, with a sentence naming the file, its mode and the fix; a good file decrypts;
 * an old PBKDF2 file opens with a warning and can be re-encrypted with scrypt; no error or warning
 * carries a passphrase or key material. Files use the cheapest scrypt cost except where the
 * default cost is the point.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  encryptedPrivateKeyProtection,
  exportEncryptedPrivateKeyPem,
  generateIdentity,
  type IdentityKeyPair,
} from "../../src/crypto/identity.ts"
import type { StoreError } from "../../src/store/errors.ts"
import { formatMode, readPrivateKeyFile, reencryptPrivateKeyFile } from "../../src/store/key-file.ts"
import { seededRandom } from "../../testkit/random.ts"

const PASSPHRASE = "correct horse battery staple"
// The RFC 8032 TEST 1 key as onechat v2 wrote it (PBES2: PBKDF2-HMAC-SHA256 × 2048, AES-256-CBC).
const PBKDF2_PEM = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGjMF8GCSqGSIb3DQEFDTBSMDEGCSqGSIb3DQEFDDAkBBDIdd/ENZMwl+90ammR
9/LzAgIIADAMBggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBKgQQVa94Pcq9npIK0rGW
JTQT3ARAut8KClv9kFarba/T29veTOP9wnL77uvIw6e4fgaKmNiyVwNepgrQ9kfR
yjMUM8QXhq+WmUFomJul02DQioHFrA==
-----END ENCRYPTED PRIVATE KEY-----
`
const RFC8032_PUBLIC = Buffer.from("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "hex")

let folder: string
let key: IdentityKeyPair
let cheapPem: string
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "onechat-key-file-"))
  key = generateIdentity(seededRandom("key-file test"))
  cheapPem = exportEncryptedPrivateKeyPem(key, PASSPHRASE, { scryptLogN: 10 })
})
afterAll(() => rm(folder, { recursive: true, force: true }))

let files = 0
const keyFile = async (text: string, mode = 0o600) => {
  const path = join(folder, `key-${files++}.pem`)
  await writeFile(path, text)
  await chmod(path, mode) // writeFile's mode is filtered by the umask; chmod is exact
  return { path, subject: "private key", userName: "alice" }
}

const failure = (effect: Effect.Effect<unknown, StoreError>) => Effect.runPromise(Effect.flip(effect))

const expectNoSecrets = (printed: ReadonlyArray<string>) => {
  for (const text of printed) {
    expect(text).not.toContain(PASSPHRASE)
    expect(text).not.toContain(Buffer.from(key.seed.expose()).toString("hex"))
    expect(text).not.toMatch(/BEGIN|PRIVATE KEY-/)
  }
}

describe("readPrivateKeyFile", () => {
  it("decrypts a 0600 or 0400 file", async () => {
    for (const mode of [0o600, 0o400]) {
      const loaded = await Effect.runPromise(readPrivateKeyFile(await keyFile(cheapPem, mode), PASSPHRASE))
      expect(loaded.key.publicKey).toEqual(key.publicKey)
      expect(loaded.protection).toMatchObject({ kdf: "scrypt", logN: 10 })
    }
  })

  it("refuses a file group or others may read or write, naming the file, its mode and the fix", async () => {
    const context = await keyFile(cheapPem, 0o644)
    const error = await failure(readPrivateKeyFile(context, PASSPHRASE))
    expect(error.reason).toBe("InsecurePermissions")
    expect(error.message).toBe(
      `The private key for user "alice" at ${context.path} has mode 0644: other users may read or change it, so onechat refuses it (as ssh does). Run \`chmod 600 ${context.path}\` and try again.`,
    )
    for (const mode of [0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o660]) {
      const refused = await failure(readPrivateKeyFile(await keyFile(cheapPem, mode), PASSPHRASE))
      expect([mode.toString(8), refused.reason]).toEqual([mode.toString(8), "InsecurePermissions"])
      expect(refused.message).toContain(`has mode ${formatMode(mode)}:`)
    }
  })

  it("refuses on permissions before decrypting: the passphrase is not even tried", async () => {
    const context = await keyFile(cheapPem, 0o644)
    const error = await failure(readPrivateKeyFile(context, "not the passphrase"))
    expect(error.reason).toBe("InsecurePermissions")
    await chmod(context.path, 0o600)
    expect((await failure(readPrivateKeyFile(context, "not the passphrase"))).reason).toBe("WrongPassphrase")
  })

  it("reports missing, oversized, damaged and foreign files, and a wrong passphrase, without secrets", async () => {
    const missing = await failure(
      readPrivateKeyFile({ path: join(folder, "none.pem"), subject: "private key" }, PASSPHRASE),
    )
    expect(missing.reason).toBe("NotFound")
    const oversized = await failure(readPrivateKeyFile(await keyFile("x".repeat(20_000)), PASSPHRASE))
    expect([oversized.reason, oversized.detail]).toEqual(["Malformed", "larger than 16384 bytes"])
    // Base64 line 3 holds DER bytes 96..143; its 25th character starts byte 114, in the second
    // ciphertext block, which decrypts to half of the seed.
    const lines = cheapPem.split("\n")
    const line = lines[3] ?? ""
    lines[3] = `${line.slice(0, 24)}${line[24] === "A" ? "B" : "A"}${line.slice(25)}`
    const damaged = await failure(readPrivateKeyFile(await keyFile(lines.join("\n")), PASSPHRASE))
    expect(damaged.reason).toBe("Malformed")
    expect(damaged.detail).toMatch(/^damaged/)
    const certificate = await failure(
      readPrivateKeyFile(
        await keyFile("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        PASSPHRASE,
      ),
    )
    expect(certificate.reason).toBe("Malformed")
    const wrong = await failure(readPrivateKeyFile(await keyFile(cheapPem), `${PASSPHRASE}!`))
    expect(wrong.reason).toBe("WrongPassphrase")
    for (const error of [missing, oversized, damaged, certificate, wrong]) {
      expectNoSecrets([error.message, String(error), JSON.stringify(error), inspect(error)])
    }
  })
})

describe("old key files", { timeout: 30_000 }, () => {
  it("open with a warning, and re-encrypting them gives scrypt N = 2^17 with no warning", async () => {
    const context = await keyFile(PBKDF2_PEM)
    const old = await Effect.runPromise(readPrivateKeyFile(context, PASSPHRASE))
    expect(old.key.publicKey).toEqual(new Uint8Array(RFC8032_PUBLIC))
    expect(old.warning).toBe(
      `The private key at ${context.path} is protected only by PBKDF2-HMAC-SHA256 with 2048 iterations, which anyone with a copy of the file can guess quickly; re-encrypt it with scrypt (N = 2^17, r = 8).`,
    )
    expectNoSecrets([old.warning ?? ""])

    await Effect.runPromise(reencryptPrivateKeyFile(context, PASSPHRASE))
    expect(formatMode((await stat(context.path)).mode)).toBe("0600")
    const protection = encryptedPrivateKeyProtection(await readFile(context.path, "utf8"))
    expect(protection).toMatchObject({ success: { kdf: "scrypt", logN: 17, r: 8, p: 1 } })
    const upgraded = await Effect.runPromise(readPrivateKeyFile(context, PASSPHRASE))
    expect(upgraded.key.publicKey).toEqual(new Uint8Array(RFC8032_PUBLIC))
    expect(upgraded.warning).toBeUndefined()
  })

  it("re-encryption refuses a file with loose permissions, and leaves it as it was", async () => {
    const context = await keyFile(PBKDF2_PEM, 0o644)
    const error = await failure(reencryptPrivateKeyFile(context, PASSPHRASE))
    expect(error.reason).toBe("InsecurePermissions")
    expect(await readFile(context.path, "utf8")).toBe(PBKDF2_PEM)
  })
})
