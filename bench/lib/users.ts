/**
 * The benchmark's users and data folder. A user's Ed25519 key is derived from its name (SHA-256 of
 * a fixed label and the name), so every process can rebuild any user's key without files; the
 * parent certifies the public halves with D/ca into D/server/users/. Benchmark only: these keys are
 * public knowledge.
 */
import { createHash } from "node:crypto"
import { mkdtemp, writeFile } from "node:fs/promises"
import os from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { type IdentityKeyPair, identityFromSeed } from "../../src/crypto/identity.ts"
import { issueUserCertificate } from "../../src/crypto/pki.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import { loadCa, wipeCa } from "../../src/store/ca.ts"
import { createDevelopmentPki } from "../../src/store/dev-pki.ts"
import { dataLayout, PUBLIC_FILE_MODE } from "../../src/store/layout.ts"

/** The name of benchmark user `index`. */
export const userName = (index: number): string => `u${index}`

/** The names of users `from` … `from + count - 1`. */
export const userNames = (from: number, count: number): string[] =>
  Array.from({ length: count }, (_, i) => userName(from + i))

/** The deterministic key of a benchmark user. */
export const userIdentity = (name: string): IdentityKeyPair =>
  identityFromSeed(new Uint8Array(createHash("sha256").update(`onechat-bench-user/${name}`).digest()))

/** A fresh data folder with a development PKI and `userCount` registered users u0…. */
export const createBenchDataDir = async (userCount: number): Promise<string> => {
  const dir = await mkdtemp(join(os.tmpdir(), "onechat-bench-"))
  await Effect.runPromise(createDevelopmentPki({ dir, users: [] }))
  const layout = dataLayout(dir)
  const ca = await Effect.runPromise(loadCa(layout.ca.root))
  const notBefore = new Date(Date.now() - 3_600_000)
  const batch = 256
  try {
    for (let from = 0; from < userCount; from += batch) {
      const names = userNames(from, Math.min(batch, userCount - from))
      await Promise.all(
        names.map(async (name) => {
          const path = Result.getOrThrow(layout.server.userCertificatePath(name))
          const { certificatePem } = await issueUserCertificate({
            ca,
            name,
            subjectPublicKey: userIdentity(name).publicKey,
            notBefore,
            random: systemRandom,
          })
          return writeFile(path, certificatePem, { mode: PUBLIC_FILE_MODE })
        }),
      )
    }
  } finally {
    wipeCa(ca)
  }
  return dir
}
