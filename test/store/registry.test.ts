/**
 * The user registry (src/store/registry.ts) and the development folder's user management
 * (src/store/dev-users.ts): certificates in server/users decide who is registered, the CRL who is
 * revoked; the CA folder is needed to add or revoke, never to look up. Real files in temporary
 * development folders (key files with a cheap scrypt, so the tests stay quick).
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { exportPublicKeyPem, generateIdentity } from "../../src/crypto/identity.ts"
import { derToPem } from "../../src/crypto/pki.ts"
import { loadClientKey } from "../../src/store/credentials.ts"
import { addUser, createDevelopmentPki, listUsers, revokeUser } from "../../src/store/dev-pki.ts"
import { dataLayout } from "../../src/store/layout.ts"
import { UserRegistry } from "../../src/store/registry.ts"
import { makeTestPki } from "../../testkit/pki.ts"
import { seededRandom } from "../../testkit/random.ts"

const run = Effect.runPromise
const PASSPHRASE = "registry test passphrase"
const cheap = { scryptLogN: 10 }
const random = seededRandom("registry.test")
const folders: string[] = []
afterEach(async () => {
  await Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

const devFolder = async (users = ["alice", "bob"]) => {
  const parent = await mkdtemp(join(tmpdir(), "onechat-registry-"))
  folders.push(parent)
  const dir = join(parent, "data")
  await run(createDevelopmentPki({ dir, users, passphrase: PASSPHRASE, keyFile: cheap, random }))
  return dir
}
const certificatePath = (dir: string, name: string) =>
  Result.getOrThrow(dataLayout(dir).server.userCertificatePath(name))

describe("UserRegistry", () => {
  it("reports registered users with the key and certificate, unknown users, and works with the CA folder gone", async () => {
    const dir = await devFolder()
    await rm(dataLayout(dir).ca.root, { recursive: true })
    const registry = new UserRegistry(dir)
    const alice = await registry.lookupUser("alice")
    const key = await run(loadClientKey({ dir, name: "alice", passphrase: PASSPHRASE }))
    expect(alice.status === "registered" && alice.publicKey).toEqual(key.publicKey)
    expect(alice.status === "registered" && alice.certificateDer.length).toBeGreaterThan(200)
    expect(await registry.lookupUser("zoe")).toEqual({ status: "unknown" })
    // The server folder alone answers the same.
    expect((await new UserRegistry(dataLayout(dir).server.root).lookupUser("alice")).status).toBe(
      "registered",
    )
  })

  it("answers revoked for a certificate the CRL lists, of another CA, for another name, or out of date", async () => {
    const dir = await devFolder()
    await run(revokeUser({ dir, name: "bob" }))
    const registry = new UserRegistry(dir)
    const bob = await registry.lookupUser("bob")
    expect(bob.status === "revoked" && bob.detail).toMatch(
      /^The certificate presented for user "bob" \(serial [0-9a-f]+\) has been revoked/,
    )
    const foreign = await makeTestPki("registry-foreign")
    await writeFile(
      certificatePath(dir, "carol"),
      derToPem(await foreign.userCertificate("carol"), "CERTIFICATE"),
    )
    const carol = await registry.lookupUser("carol")
    expect(carol.status === "revoked" && carol.detail).toContain("was not issued by the trusted onechat CA")
    // alice's certificate copied in as dave's.
    await writeFile(certificatePath(dir, "dave"), await readFile(certificatePath(dir, "alice"), "utf8"))
    expect((await registry.lookupUser("dave")).status).toBe("revoked")
    const later = new UserRegistry(dir, { now: () => Date.now() + 400 * 86_400_000 })
    const expired = await later.lookupUser("alice")
    expect(expired.status === "revoked" && expired.detail).toMatch(/out of date|expired/)
  })

  it("treats invalid names as unknown without reading any file, even a planted one", async () => {
    const dir = await devFolder(["alice"])
    await writeFile(
      join(dataLayout(dir).usersDir, "Alice.cert.pem"),
      await readFile(certificatePath(dir, "alice"), "utf8"),
    )
    const registry = new UserRegistry(dir)
    for (const name of ["Alice", "../alice", "", "a/b", "x".repeat(33)]) {
      expect(await registry.lookupUser(name)).toEqual({ status: "unknown" })
    }
  })

  it("names a corrupted certificate file Malformed without echoing its contents", async () => {
    const dir = await devFolder(["alice"])
    await writeFile(certificatePath(dir, "mallory"), "secret-looking garbage\n")
    const error = await run(Effect.flip(new UserRegistry(dir).lookup("mallory")))
    expect(error.reason).toBe("Malformed")
    expect(error.message).toBe(
      `The user certificate for user "mallory" at ${certificatePath(dir, "mallory")} is not valid (not a PEM certificate).`,
    )
    expect(error.message).not.toContain("garbage")
  })
})

describe("user management through D/ca", () => {
  it("certifies a given public key only (the --pubkey form), writing no private key", async () => {
    const dir = await devFolder(["alice"])
    const key = generateIdentity(random)
    const added = await run(addUser({ dir, name: "erin", publicKeyPem: exportPublicKeyPem(key.publicKey) }))
    expect(added).toMatchObject({
      name: "erin",
      generated: false,
      certificatePath: certificatePath(dir, "erin"),
    })
    expect(added.passphrase).toBeUndefined()
    expect(await readdir(dataLayout(dir).clientsDir)).toEqual(["alice"])
    const entry = await new UserRegistry(dir).lookupUser("erin")
    expect(entry.status === "registered" && entry.publicKey).toEqual(key.publicKey)
    expect((await stat(certificatePath(dir, "erin"))).mode & 0o777).toBe(0o644)
  })

  it("makes a key pair in the client folder when no key is given, with a generated passphrase", async () => {
    const dir = await devFolder(["alice"])
    const added = await run(addUser({ dir, name: "finn", keyFile: cheap }))
    expect(added.generated).toBe(true)
    expect(added.passphrase).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/)
    const key = await run(loadClientKey({ dir, name: "finn", passphrase: added.passphrase ?? "" }))
    const entry = await new UserRegistry(dir).lookupUser("finn")
    expect(entry.status === "registered" && entry.publicKey).toEqual(key.publicKey)
  })

  it("refuses a registered name, an invalid name, a bad key, and a folder without its CA", async () => {
    const dir = await devFolder(["alice"])
    const pem = exportPublicKeyPem(generateIdentity(random).publicKey)
    expect((await run(Effect.flip(addUser({ dir, name: "alice", publicKeyPem: pem })))).reason).toBe(
      "AlreadyExists",
    )
    expect((await run(Effect.flip(addUser({ dir, name: "../x", publicKeyPem: pem })))).reason).toBe(
      "InvalidName",
    )
    const bad = await run(Effect.flip(addUser({ dir, name: "gus", publicKeyPem: "not a key" })))
    expect([bad.reason, bad.subject]).toEqual(["Malformed", "public key given"])
    await rm(dataLayout(dir).ca.root, { recursive: true })
    const noCa = await run(Effect.flip(addUser({ dir, name: "gus", publicKeyPem: pem })))
    expect([noCa.reason, noCa.subject]).toEqual(["NotFound", "CA certificate"])
    expect((await run(Effect.flip(revokeUser({ dir, name: "alice" })))).reason).toBe("NotFound")
  })

  it("revokes once (the CRL copied to the server and the client folders), then re-registers with a new key", async () => {
    const dir = await devFolder(["alice", "bob"])
    const layout = dataLayout(dir)
    const clientCrl = join(Result.getOrThrow(layout.clientDir("alice")), "crl.pem")
    const before = await readFile(clientCrl, "utf8")
    const revoked = await run(revokeUser({ dir, name: "bob", now: new Date(Date.now() + 60_000) }))
    expect(revoked.newlyRevoked).toBe(true)
    expect((await run(revokeUser({ dir, name: "bob" }))).newlyRevoked).toBe(false)
    const after = await readFile(clientCrl, "utf8")
    expect(after).not.toBe(before)
    expect(await run(listUsers(dir))).toEqual({ registered: ["alice"], revoked: ["bob"] })
    const key = generateIdentity(random)
    await run(addUser({ dir, name: "bob", publicKeyPem: exportPublicKeyPem(key.publicKey) }))
    const entry = await new UserRegistry(dir).lookupUser("bob")
    expect(entry.status === "registered" && entry.publicKey).toEqual(key.publicKey)
    expect(await run(listUsers(dir))).toEqual({ registered: ["alice", "bob"], revoked: [] })
  })
})
