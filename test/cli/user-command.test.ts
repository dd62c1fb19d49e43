/**
 * `onechat user add | list | revoke` as real processes (bin/onechat.mjs) on a temporary
 * development folder: add has D/ca certify a key made here (its passphrase printed once) or one made
 * elsewhere (--pubkey, no private key written), revoke re-issues the CRL into D/server, list shows
 * both; without D/ca, add and revoke say to use `onechat ca`; every failure exits 1 with one sentence.
 */
import { rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { exportPublicKeyPem, generateIdentity, publicKeyFingerprint } from "../../src/crypto/identity.ts"
import { loadClientKey } from "../../src/store/credentials.ts"
import { createDevelopmentPki, revokeUser } from "../../src/store/dev-pki.ts"
import { dataLayout, pathExists } from "../../src/store/layout.ts"
import { UserRegistry } from "../../src/store/registry.ts"
import { cleanUpRuns, runOnechat, temporaryFolder } from "../../testkit/processes.ts"
import { seededRandom } from "../../testkit/random.ts"

const GENERATED = /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/
const FINGERPRINT = /[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}/

afterEach(cleanUpRuns)

/** A working directory holding a development PKI "D" with the user alice. */
const setup = async (): Promise<{ cwd: string; dir: string }> => {
  const cwd = await temporaryFolder("onechat-user-")
  const dir = join(cwd, "D")
  await Effect.runPromise(
    createDevelopmentPki({
      dir,
      users: ["alice"],
      passphrase: "alice's passphrase",
      random: seededRandom(cwd),
      keyFile: { scryptLogN: 10 },
    }),
  )
  return { cwd, dir }
}

const field = (stdout: string, name: string): string => {
  const match = new RegExp(`^ {2}${name} +(.+)$`, "m").exec(stdout)
  if (match === null) throw new Error(`no ${name} in:\n${stdout}`)
  return match[1]!
}

describe("onechat user", () => {
  it("add makes a key pair that opens with the printed passphrase; list shows it with its fingerprint", async () => {
    const { cwd, dir } = await setup()
    const added = await runOnechat(cwd, ["user", "add", "bob", "--dir", "D"])

    expect(added).toMatchObject({ code: 0, stderr: "" })
    expect(added.stdout).toContain(`Registered user bob in ${dir}: the CA in ${dir}/ca certified the key.`)
    expect(field(added.stdout, "certificate")).toMatch(
      /\/server\/users\/bob\.cert\.pem \(serial [0-9a-f]+\)$/,
    )
    const fingerprint = field(added.stdout, "fingerprint")
    const passphrase = field(added.stdout, "passphrase").split(" ")[0]!
    expect(fingerprint).toMatch(FINGERPRINT)
    expect(passphrase).toMatch(GENERATED)
    const key = await Effect.runPromise(loadClientKey({ dir, name: "bob", passphrase }))
    expect(publicKeyFingerprint(key.publicKey)).toBe(fingerprint)

    const listed = await runOnechat(cwd, ["user", "list"], { ONECHAT_DIR: "D" })
    expect(listed).toMatchObject({ code: 0, stderr: "" })
    const lines = listed.stdout.trimEnd().split("\n")
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(new RegExp(`^alice  registered  ${FINGERPRINT.source}$`))
    expect(lines[1]).toBe(`bob    registered  ${fingerprint}`)
  })

  it("add with ONECHAT_PASSPHRASE does not print it", async () => {
    const { cwd, dir } = await setup()
    const passphrase = "a passphrase from the environment"
    const added = await runOnechat(cwd, ["user", "add", "bob", "--dir", "D"], {
      ONECHAT_PASSPHRASE: passphrase,
    })

    expect(added.code).toBe(0)
    expect(added.stdout).not.toContain(passphrase)
    expect(added.stdout).toContain("passphrase   from ONECHAT_PASSPHRASE")
    await Effect.runPromise(loadClientKey({ dir, name: "bob", passphrase }))
  })

  it("add --pubkey registers a key made elsewhere and writes no private key", async () => {
    const { cwd, dir } = await setup()
    const key = generateIdentity(seededRandom("carol"))
    await writeFile(join(cwd, "carol.pub"), exportPublicKeyPem(key.publicKey))
    const added = await runOnechat(cwd, ["user", "add", "carol", "--pubkey", "carol.pub", "--dir", "D"])

    expect(added).toMatchObject({ code: 0, stderr: "" })
    expect(field(added.stdout, "fingerprint")).toBe(publicKeyFingerprint(key.publicKey))
    expect(added.stdout).not.toContain("passphrase")
    const entry = await Effect.runPromise(new UserRegistry(dir).lookup("carol"))
    expect(entry).toMatchObject({ status: "registered", publicKey: key.publicKey })
    const clientDir = join(dataLayout(dir).clientsDir, "carol")
    expect(await Effect.runPromise(pathExists(clientDir, "client folder"))).toBe(false)
  })

  it("revoke re-issues the CRL into the server folder and says so; list shows the user as revoked", async () => {
    const { cwd, dir } = await setup()
    const revoked = await runOnechat(cwd, ["user", "revoke", "alice", "--dir", "D"])

    expect(revoked).toMatchObject({ code: 0, stderr: "" })
    expect(revoked.stdout).toMatch(
      new RegExp(
        `^Revoked user alice \\(serial [0-9a-f]+\\): the CA re-issued its CRL, copied to ${dataLayout(dir).crl}\\.$`,
        "m",
      ),
    )
    expect((await Effect.runPromise(new UserRegistry(dir).lookup("alice"))).status).toBe("revoked")
    const listed = await runOnechat(cwd, ["user", "list", "--dir", "D"])
    expect(listed).toEqual({ code: 0, stdout: "alice  revoked\n", stderr: "" })
  })

  /** Each case: the arguments, and the sentence expected on stderr given the cwd and D. */
  const failures: ReadonlyArray<
    readonly [string, ReadonlyArray<string>, (cwd: string, dir: string) => string]
  > = [
    [
      "revoke of an unknown user",
      ["user", "revoke", "zed", "--dir", "D"],
      (_, dir) => `No user zed is registered in ${dir}; nothing was revoked.`,
    ],
    [
      "add of a registered user",
      ["user", "add", "alice", "--dir", "D"],
      (_, dir) => `User alice is already registered in ${dir}; revoke it first to register a new key.`,
    ],
    [
      "add of an invalid name",
      ["user", "add", "Bad!", "--dir", "D"],
      () =>
        '"Bad!" is not a valid user name: 1 to 32 characters from a-z, 0-9, "_" and "-", starting with a letter or digit.',
    ],
    [
      "add --pubkey of a missing file",
      ["user", "add", "eve", "--pubkey", "missing.pub", "--dir", "D"],
      () => "There is no file missing.pub; give --pubkey the path of an Ed25519 public key in SPKI PEM form.",
    ],
    [
      "add --pubkey of a file that is no public key",
      ["user", "add", "eve", "--pubkey", "D/README.txt", "--dir", "D"],
      () =>
        `D/README.txt does not hold an Ed25519 public key in SPKI PEM form ("-----BEGIN PUBLIC KEY-----").`,
    ],
    [
      "list of a folder that is no data folder",
      ["user", "list", "--dir", "elsewhere"],
      (cwd) =>
        `${join(cwd, "elsewhere")} is not a onechat data folder (it has no server/users folder); create one with "onechat init --dir ${join(cwd, "elsewhere")}" or choose another --dir.`,
    ],
  ]

  it.each(failures)("%s exits 1 with one sentence on stderr", async (_, args, sentence) => {
    const { cwd, dir } = await setup()
    expect(await runOnechat(cwd, args)).toEqual({
      code: 1,
      stdout: "",
      stderr: `onechat: ${sentence(cwd, dir)}\n`,
    })
  })

  it("add and revoke without the CA folder say where to run the CA commands", async () => {
    const { cwd, dir } = await setup()
    await rm(join(dir, "ca"), { recursive: true })
    for (const command of ["add", "revoke"]) {
      const run = await runOnechat(cwd, ["user", command, "alice", "--dir", "D"])
      expect(run.code).toBe(1)
      expect(run.stderr).toBe(
        `onechat: ${dir} has no CA folder (ca/), so users cannot be added or revoked here: on the machine that holds the CA, run "onechat ca issue alice --pubkey FILE --ca-dir CA --out alice.cert.pem" (or "onechat ca revoke alice --ca-dir CA") and copy the result into ${dir}/server.\n`,
      )
    }
    expect((await runOnechat(cwd, ["user", "list", "--dir", "D"])).stdout).toMatch(/^alice {2}registered {2}/)
  })

  it("revoke of a revoked user exits 1 with one sentence on stderr", async () => {
    const { cwd, dir } = await setup()
    await Effect.runPromise(revokeUser({ dir, name: "alice" }))
    expect(await runOnechat(cwd, ["user", "revoke", "alice", "--dir", "D"])).toEqual({
      code: 1,
      stdout: "",
      stderr: `onechat: User alice is already revoked in ${dir}.\n`,
    })
  })
})
