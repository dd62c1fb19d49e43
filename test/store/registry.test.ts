/**
 * Tests for src/store/registry.ts and the user management of src/store/dev-pki.ts (addUser,
 * revokeUser, listUsers): the three statuses, invalid names that never reach the filesystem,
 * corrupted files, and changes seen by the next lookup without restarting anything.
 * Each test works in its own temporary folder; randomness is seeded.
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { exportPublicKeyPem, generateIdentity, publicKeyFingerprint } from "../../src/crypto/identity.ts"
import { loadClientKey } from "../../src/store/credentials.ts"
import { addUser, listUsers, revokeUser } from "../../src/store/dev-pki.ts"
import { dataLayout } from "../../src/store/layout.ts"
import { UserRegistry } from "../../src/store/registry.ts"
import { seededRandom } from "../support/random.ts"

const temporaryFolders: string[] = []
afterEach(async () => {
  await Promise.all(temporaryFolders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** A temporary parent folder P and D = P/data with empty users/ and revoked/ folders. */
const freshRegistry = async () => {
  const parent = await mkdtemp(join(tmpdir(), "onechat-registry-"))
  temporaryFolders.push(parent)
  const dir = join(parent, "data")
  await mkdir(join(dir, "users"), { recursive: true, mode: 0o700 })
  await mkdir(join(dir, "revoked"), { mode: 0o700 })
  return { parent, dir, registry: new UserRegistry(dir) }
}

const random = seededRandom("registry")
const publicKeyPem = () => exportPublicKeyPem(generateIdentity(random).publicKey)
const run = Effect.runPromise
const runError = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect))

const INVALID_NAMES = [
  "../etc/passwd",
  "../../decoy",
  "..",
  ".",
  "a/b",
  "a\\b",
  "a\u0000b",
  "Alice",
  "",
  "-alice",
  "alice.pub",
  "x".repeat(33),
  "alice ",
]

describe("UserRegistry.lookup", () => {
  it("reports registered (with the key), revoked and unknown users", async () => {
    const { dir, registry } = await freshRegistry()
    const added = await run(addUser({ dir, name: "alice", random }))
    const key = await run(loadClientKey({ dir, name: "alice", passphrase: added.passphrase ?? "" }))
    expect(await run(registry.lookup("alice"))).toEqual({ status: "registered", publicKey: key.publicKey })
    expect(await run(registry.lookup("bob"))).toEqual({ status: "unknown" })
    await run(revokeUser({ dir, name: "alice" }))
    expect(await run(registry.lookup("alice"))).toEqual({ status: "revoked" })
  })

  it("treats invalid names as unknown without reading any file, even a planted one", async () => {
    const { parent, dir, registry } = await freshRegistry()
    // Decoys with valid keys wherever a name could lead if it were joined into a path unchecked.
    const pem = publicKeyPem()
    await mkdir(join(parent, "etc"))
    await mkdir(join(dir, "etc"))
    for (const path of [
      join(parent, "decoy.pub"),
      join(parent, "etc", "passwd.pub"),
      join(dir, "etc", "passwd.pub"),
      join(dir, "users", "Alice.pub"),
      join(dir, "users", "-alice.pub"),
      join(dir, "users", "alice.pub.pub"),
      join(dir, "users", "alice .pub"),
      join(dir, "users", `${"x".repeat(33)}.pub`),
    ]) {
      await writeFile(path, pem)
    }
    for (const name of INVALID_NAMES) {
      expect([name, await run(registry.lookup(name))]).toEqual([name, { status: "unknown" }])
      const path = dataLayout(dir).userKeyPath(name)
      expect(Result.isFailure(path) && path.failure.reason).toBe("InvalidName")
    }
  })

  it("names a corrupted key file Malformed without echoing its contents", async () => {
    const { dir, registry } = await freshRegistry()
    const secretLooking = "-----BEGIN PUBLIC KEY-----\nnot base64 at all!!\n-----END PUBLIC KEY-----\n"
    await writeFile(join(dir, "users", "mallory.pub"), secretLooking)
    const error = await runError(registry.lookup("mallory"))
    expect(error.reason).toBe("Malformed")
    expect(error.message).toBe(
      `The registered public key for user "mallory" at ${join(dataLayout(dir).usersDir, "mallory.pub")} is not valid (not an SPKI PEM public key).`,
    )
    expect(error.message).not.toContain("base64")
    await writeFile(join(dir, "users", "huge.pub"), "A".repeat(100_000))
    expect((await runError(registry.lookup("huge"))).reason).toBe("Malformed")
  })

  it("sees users added after it was created, and answers about a thousand lookups quickly", async () => {
    const { dir, registry } = await freshRegistry()
    expect(await run(registry.lookup("dave"))).toEqual({ status: "unknown" })
    await run(addUser({ dir, name: "dave", passphrase: "dave's passphrase", random }))
    expect((await run(registry.lookup("dave"))).status).toBe("registered")
    const started = performance.now()
    await run(
      Effect.forEach(Array.from({ length: 1000 }), () => registry.lookup("dave"), { concurrency: 16 }),
    )
    expect(performance.now() - started).toBeLessThan(5_000)
  })
})

describe("addUser", () => {
  it("registers a given public key only (the --pubkey form), writing no private key", async () => {
    const { dir, registry } = await freshRegistry()
    const identity = generateIdentity(random)
    const added = await run(
      addUser({ dir, name: "erin", publicKeyPem: exportPublicKeyPem(identity.publicKey) }),
    )
    expect(added).toEqual({
      name: "erin",
      fingerprint: publicKeyFingerprint(identity.publicKey),
      generated: false,
    })
    expect(await run(registry.lookup("erin"))).toEqual({
      status: "registered",
      publicKey: identity.publicKey,
    })
    await expect(stat(join(dir, "clients", "erin"))).rejects.toMatchObject({ code: "ENOENT" })
  })

  it("refuses a registered name, an invalid name, a bad key and a missing data folder", async () => {
    const { parent, dir } = await freshRegistry()
    await run(addUser({ dir, name: "frank", publicKeyPem: publicKeyPem() }))
    expect((await runError(addUser({ dir, name: "frank", random }))).reason).toBe("AlreadyExists")
    const invalid = await runError(addUser({ dir, name: "../frank", random }))
    expect(invalid.reason).toBe("InvalidName")
    expect(invalid.message).toContain('"../frank" is not a valid user name')
    const bad = await runError(addUser({ dir, name: "gina", publicKeyPem: "-----BEGIN PUBLIC KEY-----" }))
    expect(bad.reason).toBe("Malformed")
    expect((await runError(addUser({ dir: join(parent, "typo"), name: "gina", random }))).reason).toBe(
      "NotFound",
    )
    expect((await run(listUsers(dir))).registered).toEqual(["frank"])
  })

  it("generates an 80-bit passphrase when none is given and writes the key 0600", async () => {
    const { dir } = await freshRegistry()
    const added = await run(addUser({ dir, name: "hana", random }))
    expect(added.generated).toBe(true)
    expect(added.passphrase).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/)
    expect((await stat(join(dir, "clients", "hana", "key.pem"))).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, "clients", "hana"))).mode & 0o777).toBe(0o700)
  })

  it("registers a revoked name again with a new key and clears its revoked entry", async () => {
    const { dir, registry } = await freshRegistry()
    await run(addUser({ dir, name: "ivan", publicKeyPem: publicKeyPem() }))
    await run(revokeUser({ dir, name: "ivan" }))
    const identity = generateIdentity(random)
    await run(addUser({ dir, name: "ivan", publicKeyPem: exportPublicKeyPem(identity.publicKey) }))
    expect(await run(registry.lookup("ivan"))).toEqual({
      status: "registered",
      publicKey: identity.publicKey,
    })
    expect(await run(listUsers(dir))).toEqual({ registered: ["ivan"], revoked: [] })
  })
})

describe("revokeUser and listUsers", () => {
  it("lists registered and revoked users sorted, ignoring files that are not user keys", async () => {
    const { dir } = await freshRegistry()
    for (const name of ["carol", "alice", "bob", "dave"])
      await run(addUser({ dir, name, publicKeyPem: publicKeyPem() }))
    await run(revokeUser({ dir, name: "dave" }))
    await run(revokeUser({ dir, name: "bob" }))
    for (const junk of ["Zed.pub", "notes.txt", ".hidden.pub", ".alice.pub.1234.tmp"]) {
      await writeFile(join(dir, "users", junk), "junk")
    }
    await mkdir(join(dir, "users", "folder.pub"))
    expect(await run(listUsers(dir))).toEqual({ registered: ["alice", "carol"], revoked: ["bob", "dave"] })
    expect((await readdir(join(dir, "revoked"))).sort()).toEqual(["bob.pub", "dave.pub"])
  })

  it("refuses to revoke a user who is not registered", async () => {
    const { dir } = await freshRegistry()
    const error = await runError(revokeUser({ dir, name: "nobody" }))
    expect(error.reason).toBe("NotFound")
    expect(error.message).toBe(
      `No registered public key for user "nobody" in ${join(dataLayout(dir).usersDir, "nobody.pub")}.`,
    )
    expect((await runError(revokeUser({ dir, name: "No/body" }))).reason).toBe("InvalidName")
  })

  it("lists nothing revoked when the revoked folder does not exist yet", async () => {
    const { dir } = await freshRegistry()
    await rm(join(dir, "revoked"), { recursive: true })
    expect(await run(listUsers(dir))).toEqual({ registered: [], revoked: [] })
  })
})
