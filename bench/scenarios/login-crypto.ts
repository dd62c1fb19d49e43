/**
 * The "hybrid cost" micro rows of the logins section, measured in the bench process itself on one
 * core: what ML-KEM-768 adds to a login (client key generation and decapsulation, server key import
 * and encapsulation) in µs and in bytes on the wire, beside X25519; and what moving authentication
 * to ML-DSA-65 would cost against Ed25519 (sign + verify µs, signature and public-key bytes).
 * Only measures (node:crypto, the same wrappers the login uses); never part of the wire.
 */
import { generateKeyPairSync, sign, verify } from "node:crypto"
import { Result } from "effect"
import {
  importEncapsulationKey,
  MLKEM768_CIPHERTEXT_BYTES,
  MLKEM768_ENCAPSULATION_KEY_BYTES,
  mlKemDecapsulate,
  mlKemEncapsulate,
  mlKemKeyPair,
} from "../../src/crypto/mlkem.ts"
import {
  ed25519FromSeed,
  ed25519Sign,
  ed25519Verify,
  systemRandom,
  x25519,
  x25519KeyPair,
} from "../../src/crypto/primitives.ts"
import { CLIENT_HELLO_BYTES, SERVER_HELLO_BYTES } from "../../src/protocol/index.ts"
import { measured } from "../lib/context.ts"
import type { LoginCryptoCost } from "../lib/results.ts"

/** µs per call of `step`: the median over `batches` batches of `perBatch` calls, after a warm-up. */
const microseconds = (step: () => void, perBatch: number, batches: number) => {
  for (let i = 0; i < perBatch; i++) step()
  const runs: number[] = []
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < perBatch; i++) step()
    runs.push(Number(process.hrtime.bigint() - start) / 1_000 / perBatch)
  }
  return measured(runs)
}

const MESSAGE = new Uint8Array(32 + 64).fill(7) // the size of "label ‖ 0x00 ‖ TH" the login signs

/** The per-login costs of the primitives; `quick` takes fewer samples. */
export const measureLoginCrypto = (quick: boolean): LoginCryptoCost => {
  const perBatch = quick ? 100 : 400
  const batches = quick ? 3 : 5
  const us = (step: () => void) => microseconds(step, perBatch, batches)
  const pair = mlKemKeyPair(systemRandom)
  const peer = Result.getOrThrow(importEncapsulationKey(pair.encapsulationKey))
  const { ciphertext } = mlKemEncapsulate(peer)
  const dh = x25519KeyPair(systemRandom)
  const ed = ed25519FromSeed(systemRandom(32))
  const edSignature = ed25519Sign(ed.secretKey, MESSAGE)
  const dsa = generateKeyPairSync("ml-dsa-65")
  const dsaSignature = sign(null, MESSAGE, dsa.privateKey)
  const dsaPublicKey = dsa.publicKey.export({ format: "raw-public" })
  return {
    mlkem: {
      keyGenerationUs: us(() => mlKemKeyPair(systemRandom)),
      importKeyUs: us(() => importEncapsulationKey(pair.encapsulationKey)),
      encapsulationUs: us(() => mlKemEncapsulate(peer)),
      decapsulationUs: us(() => mlKemDecapsulate(pair.decapsulationKey, ciphertext)),
    },
    x25519: {
      keyPairUs: us(() => x25519KeyPair(systemRandom)),
      sharedSecretUs: us(() => x25519(dh.secretKey, dh.publicKey)),
    },
    wire: {
      clientHelloBytes: CLIENT_HELLO_BYTES,
      serverHelloBytes: SERVER_HELLO_BYTES,
      addedBytes: MLKEM768_ENCAPSULATION_KEY_BYTES + MLKEM768_CIPHERTEXT_BYTES,
    },
    signatures: [
      {
        name: "Ed25519",
        signUs: us(() => ed25519Sign(ed.secretKey, MESSAGE)),
        verifyUs: us(() => ed25519Verify(ed.publicKey, MESSAGE, edSignature)),
        signatureBytes: edSignature.length,
        publicKeyBytes: ed.publicKey.length,
      },
      {
        name: "ML-DSA-65",
        signUs: us(() => sign(null, MESSAGE, dsa.privateKey)),
        verifyUs: us(() => verify(null, MESSAGE, dsa.publicKey, dsaSignature)),
        signatureBytes: dsaSignature.length,
        publicKeyBytes: dsaPublicKey.length,
      },
    ],
  }
}
