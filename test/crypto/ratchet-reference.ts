/**
 * A second Double Ratchet, written from Signal's specification (§3.2–§3.5 pseudo-code) and
 * docs/protocol.md §8.3, sharing no code with src/crypto: node:crypto only (X25519 KeyObjects,
 * hkdfSync, createHmac, chacha20-poly1305). Test-only: no bounds on the skipped store beyond MAX_SKIP,
 * no state rollback, throws on any failure. Used to cross-check onechat's keys byte for byte.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
} from "node:crypto"

type Random = (length: number) => Uint8Array

const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex")
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex")
const MAX_SKIP = 256

interface DhPair {
  readonly privateKey: KeyObject
  readonly publicKey: Buffer
}

/** GENERATE_DH from 32 random bytes (consumed exactly as onechat does, so seeded runs agree). */
const generateDh = (random: Random): DhPair => pairOf(Buffer.from(random(32)))

const pairOf = (secret: Buffer): DhPair => {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519, secret]),
    format: "der",
    type: "pkcs8",
  })
  const publicKey = createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(12)
  return { privateKey, publicKey: Buffer.from(publicKey) }
}

const dh = (pair: DhPair, peer: Buffer): Buffer =>
  diffieHellman({
    privateKey: pair.privateKey,
    publicKey: createPublicKey({ key: Buffer.concat([SPKI_X25519, peer]), format: "der", type: "spki" }),
  })

const hkdf = (ikm: Buffer, salt: Buffer, info: string, length: number): Buffer =>
  Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from(info), length))

const KDF_RK = (rk: Buffer, dhOut: Buffer): [Buffer, Buffer] => {
  const out = hkdf(dhOut, rk, "onechat v3 ratchet root", 64)
  return [out.subarray(0, 32), out.subarray(32)]
}

const hmac = (key: Buffer, data: Buffer): Buffer => createHmac("sha256", key).update(data).digest()

const KDF_CK = (ck: Buffer): [Buffer, Buffer] => [hmac(ck, Buffer.of(2)), hmac(ck, Buffer.of(1))]

/** HKDF-Expand only (RFC 5869 §2.3), written out: T(1) ‖ T(2) truncated to 44 bytes. */
const messageKeys = (mk: Buffer): { key: Buffer; nonce: Buffer } => {
  const info = Buffer.from("onechat v3 ratchet message")
  const t1 = hmac(mk, Buffer.concat([info, Buffer.of(1)]))
  const t2 = hmac(mk, Buffer.concat([t1, info, Buffer.of(2)]))
  const okm = Buffer.concat([t1, t2]).subarray(0, 44)
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32) }
}

const HEADER = (pub: Buffer, pn: number, n: number): Buffer => {
  const header = Buffer.alloc(40)
  pub.copy(header)
  header.writeUInt32BE(pn, 32)
  header.writeUInt32BE(n, 36)
  return header
}

const ENCRYPT = (mk: Buffer, plaintext: Uint8Array, ad: Buffer): Buffer => {
  const { key, nonce } = messageKeys(mk)
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 })
  cipher.setAAD(ad, { plaintextLength: plaintext.length })
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

const DECRYPT = (mk: Buffer, sealed: Buffer, ad: Buffer): Buffer => {
  const { key, nonce } = messageKeys(mk)
  const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 })
  decipher.setAAD(ad, { plaintextLength: sealed.length - 16 })
  decipher.setAuthTag(sealed.subarray(sealed.length - 16))
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()])
}

export class ReferenceRatchet {
  DHs: DhPair
  DHr: Buffer | undefined
  RK: Buffer
  CKs: Buffer | undefined
  CKr: Buffer | undefined
  Ns = 0
  Nr = 0
  PN = 0
  readonly MKSKIPPED = new Map<string, Buffer>()
  /** Every message key used, in order (sealed or opened). */
  readonly usedKeys: Buffer[] = []

  private constructor(DHs: DhPair, RK: Buffer) {
    this.DHs = DHs
    this.RK = RK
  }

  /** The initial b2a chain: HKDF(salt = zeros, IKM = SK, "onechat v3 ratchet initial b2a chain", 32). */
  static initialChain(SK: Buffer): Buffer {
    return hkdf(SK, Buffer.alloc(32), "onechat v3 ratchet initial b2a chain", 32)
  }

  /** RatchetInitAlice, with CKr = the initial chain for DHr = EB. */
  static alice(SK: Uint8Array, EB: Uint8Array, random: Random): ReferenceRatchet {
    const state = new ReferenceRatchet(generateDh(random), Buffer.from(SK))
    state.DHr = Buffer.from(EB)
    ;[state.RK, state.CKs] = KDF_RK(Buffer.from(SK), dh(state.DHs, state.DHr))
    state.CKr = ReferenceRatchet.initialChain(Buffer.from(SK))
    return state
  }

  /** RatchetInitBob, with CKs = the initial chain (Bob may speak first). */
  static bob(SK: Uint8Array, eBSecret: Uint8Array): ReferenceRatchet {
    const state = new ReferenceRatchet(pairOf(Buffer.from(eBSecret)), Buffer.from(SK))
    state.CKs = ReferenceRatchet.initialChain(Buffer.from(SK))
    return state
  }

  RatchetEncrypt(plaintext: Uint8Array, AD: Uint8Array): Buffer {
    const [CKs, mk] = KDF_CK(this.CKs!)
    this.CKs = CKs
    const header = HEADER(this.DHs.publicKey, this.PN, this.Ns)
    this.Ns += 1
    this.usedKeys.push(mk)
    return Buffer.concat([header, ENCRYPT(mk, plaintext, Buffer.concat([AD, header]))])
  }

  RatchetDecrypt(envelope: Uint8Array, AD: Uint8Array, random: Random): Buffer {
    const bytes = Buffer.from(envelope)
    const header = { dh: bytes.subarray(0, 32), pn: bytes.readUInt32BE(32), n: bytes.readUInt32BE(36) }
    const ad = Buffer.concat([AD, bytes.subarray(0, 40)])
    const sealed = bytes.subarray(40)
    const id = `${header.dh.toString("hex")}:${header.n}`
    const skipped = this.MKSKIPPED.get(id)
    if (skipped !== undefined) {
      this.MKSKIPPED.delete(id)
      this.usedKeys.push(skipped)
      return DECRYPT(skipped, sealed, ad)
    }
    if (this.DHr === undefined || !header.dh.equals(this.DHr)) {
      this.SkipMessageKeys(header.pn)
      this.DHRatchet(Buffer.from(header.dh), random)
    }
    this.SkipMessageKeys(header.n)
    const [CKr, mk] = KDF_CK(this.CKr!)
    this.CKr = CKr
    this.Nr += 1
    this.usedKeys.push(mk)
    return DECRYPT(mk, sealed, ad)
  }

  private SkipMessageKeys(until: number): void {
    if (this.Nr + MAX_SKIP < until) throw new Error("too many skipped messages")
    if (this.CKr === undefined) return
    while (this.Nr < until) {
      const [CKr, mk] = KDF_CK(this.CKr)
      this.CKr = CKr
      this.MKSKIPPED.set(`${this.DHr!.toString("hex")}:${this.Nr}`, mk)
      this.Nr += 1
    }
  }

  private DHRatchet(remote: Buffer, random: Random): void {
    this.PN = this.Ns
    this.Ns = 0
    this.Nr = 0
    this.DHr = remote
    ;[this.RK, this.CKr] = KDF_RK(this.RK, dh(this.DHs, this.DHr))
    this.DHs = generateDh(random)
    ;[this.RK, this.CKs] = KDF_RK(this.RK, dh(this.DHs, this.DHr))
  }
}
