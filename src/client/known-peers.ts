/**
 * Pinned peer keys, the second line behind the CA's certificates: one JSON file per user, name →
 * Ed25519 key and whether the user verified it (compared safety numbers, `!verify <number>`). A key
 * seen for the first time is pinned once its chat agreement verified; a different key later is
 * "changed" and blocks the chat until the user trusts that exact key. Rewritten atomically.
 * docs/protocol.md §8.3.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { Option, Schema } from "effect"
import { bytesEqual } from "../crypto/primitives.ts"
import { isValidUserName } from "../protocol/names.ts"
import type { KeyStatus } from "./session.events.ts"

interface PinEntry {
  readonly key: string
  readonly pinned: string
  readonly verified?: boolean
}

interface PinFile {
  readonly version: 1 | 2
  readonly peers: Record<string, PinEntry>
}

interface Pin {
  readonly key: Uint8Array
  readonly pinned: string
  readonly verified: boolean
}

export class KnownPeers {
  readonly #path: string | undefined
  readonly #pins = new Map<string, Pin>()

  private constructor(path: string | undefined) {
    this.#path = path
  }

  /** Loads the pin file (a missing file is an empty list); `undefined` path keeps pins in memory. */
  static async open(path: string | undefined): Promise<KnownPeers> {
    const peers = new KnownPeers(path)
    if (path === undefined) return peers
    let text: string
    try {
      text = await readFile(path, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return peers
      throw new Error(`Cannot read the known peers file ${path}.`)
    }
    const parsed = parsePinFile(text)
    if (parsed === undefined)
      throw new Error(`The known peers file ${path} is damaged; move it away to start over.`)
    for (const [name, pin] of Object.entries(parsed.peers)) {
      peers.#pins.set(name, {
        key: new Uint8Array(Buffer.from(pin.key, "base64")),
        pinned: pin.pinned,
        verified: pin.verified === true,
      })
    }
    return peers
  }

  status(name: string, key: Uint8Array): KeyStatus {
    const pin = this.#pins.get(name)
    if (pin === undefined) return "new"
    return bytesEqual(pin.key, key) ? "known" : "changed"
  }

  /** True when `key` is the pinned key of `name` and the user verified it. */
  isVerified(name: string, key: Uint8Array): boolean {
    const pin = this.#pins.get(name)
    return pin?.verified === true && bytesEqual(pin.key, key)
  }

  /** Pins `key` for `name` (first use, or after the user trusted that exact key) and saves; not verified. */
  async pin(name: string, key: Uint8Array, now = new Date()): Promise<void> {
    this.#pins.set(name, { key: Uint8Array.from(key), pinned: now.toISOString(), verified: false })
    await this.#save()
  }

  /** Marks the pinned key of `name` as verified, if it is `key`; false when it is not pinned. */
  async markVerified(name: string, key: Uint8Array): Promise<boolean> {
    const pin = this.#pins.get(name)
    if (pin === undefined || !bytesEqual(pin.key, key)) return false
    this.#pins.set(name, { ...pin, verified: true })
    await this.#save()
    return true
  }

  async #save(): Promise<void> {
    if (this.#path === undefined) return
    const file: PinFile = {
      version: 2,
      peers: Object.fromEntries(
        [...this.#pins].map(([peer, pin]) => [
          peer,
          { key: Buffer.from(pin.key).toString("base64"), pinned: pin.pinned, verified: pin.verified },
        ]),
      ),
    }
    await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 })
    const temporary = `${this.#path}.${process.pid}.tmp`
    await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 })
    await rename(temporary, this.#path)
  }
}

/** A pinned key: 32 bytes of Ed25519 public key, base64. */
const PinnedKey = Schema.String.pipe(
  Schema.refine((key: string): key is string => Buffer.from(key, "base64").length === 32),
)

/** The pin file as written by #save (version 2) or by older clients (version 1, no `verified`). */
const PinFileJson = Schema.fromJsonString(
  Schema.Struct({
    version: Schema.optionalKey(Schema.Literals([1, 2])),
    peers: Schema.Record(
      Schema.String,
      Schema.Struct({
        key: PinnedKey,
        pinned: Schema.optionalKey(Schema.String),
        verified: Schema.optionalKey(Schema.Boolean),
      }),
    ).pipe(
      // Every name a user name: a refined key schema would drop the others silently, not refuse them.
      Schema.refine((peers): peers is typeof peers => Object.keys(peers).every(isValidUserName)),
    ),
  }),
)

const decodePinFile = Schema.decodeUnknownOption(PinFileJson)

/** The pin file's text as pins, or `undefined` when it is not one (bad JSON, names or keys). */
const parsePinFile = (text: string): PinFile | undefined => {
  const decoded = decodePinFile(text)
  if (Option.isNone(decoded)) return undefined
  const peers: Record<string, PinEntry> = {}
  for (const [name, pin] of Object.entries(decoded.value.peers)) {
    peers[name] = { key: pin.key, pinned: pin.pinned ?? "", verified: pin.verified === true }
  }
  return { version: 2, peers }
}
