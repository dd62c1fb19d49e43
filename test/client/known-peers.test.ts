/**
 * The pin file (known_peers.json) as written and as read back: what a client saved loads again,
 * an older client's file (no `verified`) loads, and every kind of damage is refused with the one
 * sentence that tells the user what to do — never a half-read list of pins.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { KnownPeers } from "../../src/client/known-peers.ts"

const KEY_A = new Uint8Array(32).fill(1)
const KEY_B = new Uint8Array(32).fill(2)
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64")

let folder: string
let path: string
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), "onechat-pins-"))
  path = join(folder, "known_peers.json")
})
afterEach(() => rm(folder, { recursive: true, force: true }))

describe("KnownPeers", () => {
  it("loads what it saved: pinned, verified and changed keys", async () => {
    const pins = await KnownPeers.open(path)
    await pins.pin("bob", KEY_A, new Date("2026-12-01T00:00:00Z"))
    await pins.pin("carol", KEY_B)
    expect(await pins.markVerified("bob", KEY_A)).toBe(true)
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({
      version: 2,
      peers: { bob: { key: b64(KEY_A), pinned: "2026-12-01T00:00:00.000Z", verified: true } },
    })
    const again = await KnownPeers.open(path)
    expect(again.status("bob", KEY_A)).toBe("known")
    expect(again.isVerified("bob", KEY_A)).toBe(true)
    expect(again.status("bob", KEY_B)).toBe("changed")
    expect(again.isVerified("carol", KEY_B)).toBe(false)
    expect(again.status("dave", KEY_A)).toBe("new")
  })

  it("loads an older client's file (version 1, no verified flag) as unverified pins", async () => {
    await writeFile(path, JSON.stringify({ version: 1, peers: { bob: { key: b64(KEY_A), pinned: "x" } } }))
    const pins = await KnownPeers.open(path)
    expect(pins.status("bob", KEY_A)).toBe("known")
    expect(pins.isVerified("bob", KEY_A)).toBe(false)
  })

  it("treats a missing file as no pins", async () => {
    expect((await KnownPeers.open(path)).status("bob", KEY_A)).toBe("new")
  })

  it.each([
    ["not JSON", "{ peers"],
    ["no peers", JSON.stringify({ version: 2 })],
    ["peers not an object", JSON.stringify({ version: 2, peers: [] })],
    ["a name that is not a user name", JSON.stringify({ peers: { "Bob!": { key: b64(KEY_A) } } })],
    ["a key of 31 bytes", JSON.stringify({ peers: { bob: { key: b64(KEY_A.slice(1)) } } })],
    ["a key that is not a string", JSON.stringify({ peers: { bob: { key: 7 } } })],
    [
      "a verified flag that is not a boolean",
      JSON.stringify({ peers: { bob: { key: b64(KEY_A), verified: "yes" } } }),
    ],
    ["an unknown version", JSON.stringify({ version: 9, peers: {} })],
  ])("refuses a damaged file: %s", async (_, text) => {
    await writeFile(path, text)
    await expect(KnownPeers.open(path)).rejects.toThrow(
      `The known peers file ${path} is damaged; move it away to start over.`,
    )
  })
})
