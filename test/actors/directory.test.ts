/**
 * Examples of Directory.list(): who is available (online, not in a conversation), sorted, capped at
 * MAX_LIST_NAMES, the asker left out of both the names and the total; and how logins, displaced
 * logins, requests, chats and logouts move a name in and out. The exhaustive check against the
 * original algorithm is directory.prop.test.ts.
 */
import { describe, expect, it } from "vitest"
import { Directory } from "../../src/actors/directory.ts"
import { MAX_LIST_NAMES } from "../../src/protocol/constants.ts"

/** The directory stores users opaquely: any key and certificate bytes will do. */
const user = (name: string) => ({ name, identityKey: new Uint8Array(32), certificate: Uint8Array.of(0x30) })

const directoryOf = (...names: string[]): Directory => {
  const directory = new Directory()
  for (const name of names) directory.register(`c-${name}`, user(name))
  return directory
}

describe("Directory.list", () => {
  it("lists the other available users in sorted order, the asker excluded from names and total", () => {
    const directory = directoryOf("carol", "alice", "Bob", "bob")
    expect(directory.list("alice")).toEqual({ total: 3, names: ["Bob", "bob", "carol"] })
    expect(directory.list("nobody")).toEqual({ total: 4, names: ["Bob", "alice", "bob", "carol"] })
  })

  it("leaves out users in a request or a chat until it ends, and users who left", () => {
    const directory = directoryOf("alice", "bob", "carol", "dave")
    expect("target" in directory.request("alice", "bob")).toBe(true)
    expect(directory.list("carol")).toEqual({ total: 1, names: ["dave"] })
    expect(directory.list("alice")).toEqual({ total: 2, names: ["carol", "dave"] })
    directory.advance("bob", "accepter", "alice", "requested", "establishing")
    directory.advance("alice", "requester", "bob", "establishing", "chatting")
    expect(directory.list("carol").names).toEqual(["dave"])
    directory.endConversation("bob", "alice")
    expect(directory.list("carol").names).toEqual(["alice", "bob", "dave"])
    directory.unregister("c-dave")
    expect(directory.list("carol")).toEqual({ total: 2, names: ["alice", "bob"] })
  })

  it("keeps a displaced login listed once, and frees its peer", () => {
    const directory = directoryOf("alice", "bob", "carol")
    directory.request("alice", "bob")
    const { displaced, orphanedPeer } = directory.register("c-alice-2", user("alice"))
    expect(displaced).toBe("c-alice")
    expect(orphanedPeer).toEqual({ name: "bob", connectionId: "c-bob" })
    expect(directory.list("carol")).toEqual({ total: 2, names: ["alice", "bob"] })
    expect(directory.unregister("c-alice")).toEqual({}) // the displaced connection is already forgotten
    expect(directory.list("carol").names).toEqual(["alice", "bob"])
    directory.unregister("c-alice-2")
    expect(directory.list("carol").names).toEqual(["bob"])
  })

  it("caps the names at MAX_LIST_NAMES, filling the asker's place with the next name", () => {
    const names = Array.from({ length: MAX_LIST_NAMES + 3 }, (_, i) => `u${String(i).padStart(5, "0")}`)
    const directory = directoryOf(...[...names].reverse())
    const outsider = directory.list("zz")
    expect(outsider.total).toBe(MAX_LIST_NAMES + 3)
    expect(outsider.names).toEqual(names.slice(0, MAX_LIST_NAMES))

    const early = directory.list(names[10]!)
    expect(early.total).toBe(MAX_LIST_NAMES + 2)
    expect(early.names).toEqual([...names.slice(0, 10), ...names.slice(11, MAX_LIST_NAMES + 1)])

    const late = directory.list(names[MAX_LIST_NAMES + 1]!)
    expect(late.total).toBe(MAX_LIST_NAMES + 2)
    expect(late.names).toEqual(names.slice(0, MAX_LIST_NAMES))
  })
})
