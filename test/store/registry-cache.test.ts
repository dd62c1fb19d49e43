/**
 * The registry's in-memory certificate files while `watch()` is active (src/store/registry.ts,
 * docs/performance.md #6): kept files save the reads, and yet every change — a certificate added,
 * replaced or removed, a new CRL revoking one — is seen by the very next lookup, before any watch
 * event arrives. When the folders cannot be watched, every lookup reads the files. Each test has
 * its own server folder, filled with certificates of the test CA.
 */
import { createPublicKey, X509Certificate } from "node:crypto"
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { decodePem, generateIdentity, importPublicKeyPem } from "../../src/crypto/identity.ts"
import { createCrl, derToPem } from "../../src/crypto/pki.ts"
import * as layout from "../../src/store/layout.ts"
import { UserRegistry } from "../../src/store/registry.ts"
import { makeTestPki } from "../../testkit/pki.ts"
import { seededRandom } from "../../testkit/random.ts"

// Counts the registry's certificate file reads (the CA copy and CRL are read otherwise).
vi.mock("../../src/store/layout.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/store/layout.ts")>()
  return { ...original, readSmallFile: vi.fn(original.readSmallFile) }
})
const reads = vi.mocked(layout.readSmallFile)

const random = seededRandom("registry-cache")
const pki = await makeTestPki("registry-cache")
const run = Effect.runPromise
const temporaryFolders: string[] = []
const scopes: Scope.Closeable[] = []

beforeEach(() => {
  reads.mockClear()
})
afterEach(async () => {
  await Promise.all(scopes.splice(0).map((scope) => run(Scope.close(scope, Exit.void))))
  await Promise.all(temporaryFolders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** Writes a CRL of the test CA listing `serials`, valid from an hour ago for 7 days. */
const writeCrl = async (dir: string, serials: string[] = []) => {
  const { crlPem } = await createCrl({
    ca: pki.ca,
    revokedSerials: serials,
    thisUpdate: new Date(Date.now() - 3_600_000),
    nextUpdate: new Date(Date.now() + 7 * 86_400_000),
  })
  // A new file each time (rename over), as `onechat ca crl` and a copy do.
  await writeFile(join(dir, "crl.tmp"), crlPem)
  await rename(join(dir, "crl.tmp"), join(dir, "crl.pem"))
}

/**
 * A server folder with users/, the CA copy and an empty CRL, and a watched registry whose clock
 * runs 10 s ahead, so files written by the test count as settled (the settle rule has its own test).
 */
const watchedRegistry = async (
  options: { readonly clockAheadMs?: number; readonly users?: boolean } = {},
) => {
  const dir = await mkdtemp(join(tmpdir(), "onechat-registry-cache-"))
  temporaryFolders.push(dir)
  if (options.users !== false) await mkdir(join(dir, "users"), { mode: 0o700 })
  await writeFile(join(dir, "ca.cert.pem"), derToPem(pki.caCertificateDer, "CERTIFICATE"))
  await writeCrl(dir)
  const ahead = options.clockAheadMs ?? 10_000
  const registry = new UserRegistry(dir, { now: () => Date.now() + ahead })
  const scope = await run(Scope.make())
  scopes.push(scope)
  await run(registry.watch().pipe(Scope.provide(scope)))
  return { dir, registry, scope }
}

const newKey = () => generateIdentity(random).publicKey
/** Certifies `publicKey` for `name` (the test CA) into users/<name>.cert.pem; returns key and certificate. */
const register = async (dir: string, name: string, publicKey = newKey()) => {
  const certificateDer = await pki.userCertificate(name, publicKey)
  await writeFile(join(dir, "users", `${name}.cert.pem`), derToPem(certificateDer, "CERTIFICATE"))
  return { publicKey, certificateDer }
}
const serialOf = (der: Uint8Array) =>
  new X509Certificate(der).serialNumber.toLowerCase().replace(/^0+(?=.)/, "")

describe("UserRegistry while watching", () => {
  it("answers repeated lookups from memory, with copies of the key and certificate", async () => {
    const { dir, registry } = await watchedRegistry()
    expect(registry.cacheActive).toBe(true)
    const { publicKey, certificateDer } = await register(dir, "alice")
    const first = await registry.lookupUser("alice")
    expect(first).toMatchObject({ status: "registered", publicKey, certificateDer })
    for (let i = 0; i < 20; i++) await registry.lookupUser("alice")
    expect(await run(registry.lookup("alice"))).toMatchObject({ status: "registered", publicKey })
    expect(reads).toHaveBeenCalledTimes(1)
    if (first.status === "registered") {
      first.publicKey.fill(0)
      first.certificateDer.fill(0)
    }
    expect(await registry.lookupUser("alice")).toMatchObject({
      status: "registered",
      publicKey,
      certificateDer,
    })
  })

  it("sees a new CRL revoking a kept certificate at the very next lookup, without waiting for the watch event", async () => {
    const { dir, registry } = await watchedRegistry()
    const { certificateDer } = await register(dir, "bob")
    expect((await registry.lookupUser("bob")).status).toBe("registered")
    await writeCrl(dir, [serialOf(certificateDer)])
    // Synchronously after the rename: no event loop turn for fs.watch in between.
    const revoked = await registry.lookupUser("bob")
    expect(revoked.status).toBe("revoked")
    expect(revoked.status === "revoked" && revoked.detail).toContain("has been revoked by the onechat CA")
    await writeCrl(dir)
    expect((await registry.lookupUser("bob")).status).toBe("registered")
  })

  it("lets a user certified after a failed login log in, and a re-certified one use the new key", async () => {
    const { dir, registry } = await watchedRegistry()
    expect(await registry.lookupUser("carol")).toEqual({ status: "unknown" })
    expect(await registry.lookupUser("carol")).toEqual({ status: "unknown" })
    const first = await register(dir, "carol")
    expect(await registry.lookupUser("carol")).toMatchObject({
      status: "registered",
      publicKey: first.publicKey,
    })
    const again = await register(dir, "carol")
    expect(again.publicKey).not.toEqual(first.publicKey)
    expect(await registry.lookupUser("carol")).toMatchObject({
      status: "registered",
      publicKey: again.publicKey,
    })
  })

  it("sees a certificate removed, and a users folder swapped for another", async () => {
    const { dir, registry } = await watchedRegistry()
    await register(dir, "dave")
    expect((await registry.lookupUser("dave")).status).toBe("registered")
    const swapped = newKey()
    await rename(join(dir, "users"), join(dir, "users.old"))
    await mkdir(join(dir, "users"))
    await register(dir, "dave", swapped)
    expect(await registry.lookupUser("dave")).toMatchObject({ status: "registered", publicKey: swapped })
    await rm(join(dir, "users", "dave.cert.pem"))
    expect(await registry.lookupUser("dave")).toEqual({ status: "unknown" })
  })

  it("forgets everything at a watch event, even a change no stat would show", async () => {
    const { dir, registry } = await watchedRegistry()
    await register(dir, "erin")
    await registry.lookupUser("erin")
    await registry.lookupUser("erin")
    expect(reads).toHaveBeenCalledTimes(1)
    await writeFile(join(dir, "users", "unrelated.txt"), "x")
    await vi.waitFor(async () => {
      await registry.lookupUser("erin")
      expect(reads.mock.calls.length).toBeGreaterThan(1)
    })
  })

  it("never keeps a failed lookup: a malformed file fixed later is read again", async () => {
    const { dir, registry } = await watchedRegistry()
    await writeFile(
      join(dir, "users", "frank.cert.pem"),
      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    expect((await run(Effect.flip(registry.lookup("frank")))).reason).toBe("Malformed")
    expect((await run(Effect.flip(registry.lookup("frank")))).reason).toBe("Malformed")
    const { publicKey } = await register(dir, "frank")
    expect(await registry.lookupUser("frank")).toMatchObject({ status: "registered", publicKey })
  })

  it("keeps nothing for files changed less than a second ago (a rewrite could share their timestamp)", async () => {
    const { dir, registry } = await watchedRegistry({ clockAheadMs: 0 })
    await register(dir, "gina")
    for (let i = 0; i < 3; i++) expect((await registry.lookupUser("gina")).status).toBe("registered")
    expect(reads).toHaveBeenCalledTimes(3)
  })

  it("reads every time when a folder cannot be watched, and keeps answers once it can", async () => {
    const { dir, registry } = await watchedRegistry({ users: false })
    expect(registry.cacheActive).toBe(false)
    await mkdir(join(dir, "users"))
    await register(dir, "hana")
    await vi.waitFor(
      async () => {
        await registry.lookupUser("hana")
        expect(registry.cacheActive).toBe(true)
      },
      { timeout: 5_000, interval: 100 },
    )
    reads.mockClear()
    await registry.lookupUser("hana")
    await registry.lookupUser("hana")
    expect(reads.mock.calls.length).toBeLessThanOrEqual(1)
  })

  it("stops keeping answers when its scope closes", async () => {
    const { dir, registry, scope } = await watchedRegistry()
    await register(dir, "ivan")
    await registry.lookupUser("ivan")
    await run(Scope.close(scope, Exit.void))
    expect(registry.cacheActive).toBe(false)
    reads.mockClear()
    await registry.lookupUser("ivan")
    await registry.lookupUser("ivan")
    expect(reads).toHaveBeenCalledTimes(2)
  })

  it("never reads for an invalid name, watched or not", async () => {
    const { registry } = await watchedRegistry()
    for (const name of ["../x", "Alice", "", "a/b"]) {
      expect(await registry.lookupUser(name)).toEqual({ status: "unknown" })
    }
    expect(reads).not.toHaveBeenCalled()
  })
})

describe("importPublicKeyPem", () => {
  const pem = (der: Uint8Array, label = "PUBLIC KEY") =>
    `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64")}\n-----END ${label}-----\n`
  const ed25519Prefix = Buffer.from("302a300506032b6570032100", "hex")
  const reason = (text: string) => {
    const result = importPublicKeyPem(text)
    return result._tag === "Success" ? "ok" : result.failure.reason
  }

  it("reads the raw key of any 32 bytes after the RFC 8410 prefix", () => {
    for (const key of [new Uint8Array(32), new Uint8Array(32).fill(0xff), newKey()]) {
      const result = importPublicKeyPem(pem(Buffer.concat([ed25519Prefix, key])))
      expect(result._tag === "Success" && result.success).toEqual(key)
    }
  })

  /** The verdict before the fast path: OpenSSL parses, the key type is checked, the raw key exported. */
  const throughOpenSsl = (text: string) => {
    const block = decodePem(text)
    if (block?.label !== "PUBLIC KEY") return "Malformed"
    try {
      const key = createPublicKey({ key: Buffer.from(block.der), format: "der", type: "spki" })
      if (key.asymmetricKeyType !== "ed25519") return "NotEd25519"
      return Buffer.from(key.export({ type: "spki", format: "der" }).subarray(12)).toString("hex")
    } catch {
      return "Malformed"
    }
  }
  const verdict = (text: string) => {
    const result = importPublicKeyPem(text)
    return result._tag === "Success" ? Buffer.from(result.success).toString("hex") : result.failure.reason
  }

  it("gives OpenSSL's verdict for everything else: other key types, broken or padded DER", () => {
    const key = newKey()
    const x25519 = Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), key])
    const badLength = Buffer.concat([ed25519Prefix, key])
    badLength[1] = 0x2b
    const cases = [
      pem(x25519),
      pem(Buffer.concat([ed25519Prefix, key.subarray(0, 31)])),
      pem(Buffer.concat([ed25519Prefix, key, Uint8Array.of(0)])),
      pem(badLength),
      pem(Buffer.concat([ed25519Prefix, key]), "PRIVATE KEY"),
      pem(Buffer.concat([ed25519Prefix, key])),
      pem(new Uint8Array(44)),
      "no PEM here",
    ]
    expect(reason(pem(x25519))).toBe("NotEd25519")
    expect(reason(pem(badLength))).toBe("Malformed")
    for (const text of cases) expect([text, verdict(text)]).toEqual([text, throughOpenSsl(text)])
    for (let i = 0; i < 200; i++) {
      const der = random(44)
      der.set(ed25519Prefix.subarray(0, i % 13))
      expect(verdict(pem(der))).toBe(throughOpenSsl(pem(der)))
    }
  })
})
