/**
 * Pinned peer keys (trust on first use): one JSON file per user, name → Ed25519 key. A key seen
 * for the first time is pinned; a different key later is "changed" and blocks the chat until the
 * user trusts it. The file is rewritten atomically. docs/protocol.md §8.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { bytesEqual } from "../crypto/primitives.ts"
import { isValidUserName } from "../protocol/names.ts"
import type { KeyStatus } from "./session.events.ts"

interface PinFile {
  readonly version: 1
  readonly peers: Record<string, { readonly key: string; readonly pinned: string }>
}

export class KnownPeers {
  readonly #path: string | undefined
  readonly #pins = new Map<string, { key: Uint8Array; pinned: string }>()

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
      peers.#pins.set(name, { key: new Uint8Array(Buffer.from(pin.key, "base64")), pinned: pin.pinned })
    }
    return peers
  }

  status(name: string, key: Uint8Array): KeyStatus {
    const pin = this.#pins.get(name)
    if (pin === undefined) return "new"
    return bytesEqual(pin.key, key) ? "known" : "changed"
  }

  /** Pins `key` for `name` (first use, or after the user trusted a change) and saves. */
  async pin(name: string, key: Uint8Array, now = new Date()): Promise<void> {
    this.#pins.set(name, { key: Uint8Array.from(key), pinned: now.toISOString() })
    if (this.#path === undefined) return
    const file: PinFile = {
      version: 1,
      peers: Object.fromEntries(
        [...this.#pins].map(([peer, pin]) => [
          peer,
          { key: Buffer.from(pin.key).toString("base64"), pinned: pin.pinned },
        ]),
      ),
    }
    await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 })
    const temporary = `${this.#path}.${process.pid}.tmp`
    await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 })
    await rename(temporary, this.#path)
  }
}

const parsePinFile = (text: string): PinFile | undefined => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null || !("peers" in value)) return undefined
  const peers = (value as { peers: unknown }).peers
  if (typeof peers !== "object" || peers === null) return undefined
  const result: Record<string, { key: string; pinned: string }> = {}
  for (const [name, pin] of Object.entries(peers)) {
    if (!isValidUserName(name) || typeof pin !== "object" || pin === null) return undefined
    const { key, pinned } = pin as { key?: unknown; pinned?: unknown }
    if (typeof key !== "string" || Buffer.from(key, "base64").length !== 32) return undefined
    result[name] = { key, pinned: typeof pinned === "string" ? pinned : "" }
  }
  return { version: 1, peers: result }
}
