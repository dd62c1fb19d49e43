/**
 * Conformance with the chart: in every state a client can reach, every opcode that is illegal
 * there is answered with the documented non-fatal ERROR (ILLEGAL_STATE, or WRONG_PEER when it names
 * another user), is not acted upon, and the connection — and the server — keep working.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ClientLink } from "../../src/client/link.ts"
import { type ClientMessage, ErrorCode } from "../../src/protocol/index.ts"
import { establishChat, expectMessage, login } from "../../testkit/chat.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ users: ["alice", "bob", "carol"] })
})
afterAll(() => server.stop())

const bytes = (length: number, fill = 1) => new Uint8Array(length).fill(fill)
/** The server relays RTT/ACCEPT fields opaquely: stand-ins of the right sizes (ML-KEM-768 key, ciphertext). */
const rtt = (to: string): ClientMessage => ({
  type: "Rtt",
  to,
  nonce: bytes(32),
  ephemeralKey: bytes(32, 9),
  kemKey: bytes(1184, 8),
})
const message = {
  rtt: rtt("carol"),
  accept: (requester: string): ClientMessage => ({
    type: "Accept",
    requester,
    nonce: bytes(32),
    ephemeralKey: bytes(32, 9),
    kemCiphertext: bytes(1088, 6),
    signature: bytes(64),
    confirmation: bytes(32),
  }),
  refuse: (requester: string): ClientMessage => ({ type: "Refuse", requester }),
  chat: { type: "Message", envelope: bytes(88) },
  establish: (accepter: string): ClientMessage => ({
    type: "CcSessionEstablishment",
    accepter,
    signature: bytes(64),
    confirmation: bytes(32),
  }),
  notify: (peer: string): ClientMessage => ({ type: "Notify", peer }),
} as const

type Setup = () => Promise<{ readonly alice: ClientLink; readonly bob: ClientLink }>

const pair = async () => ({ alice: await login(server, "alice"), bob: await login(server, "bob") })

/** How to bring alice into each state. */
const states: Record<string, Setup> = {
  idle: pair,
  "requesting.outgoing": async () => {
    const links = await pair()
    links.alice.send(rtt("bob"))
    await expectMessage(links.bob, "Rtt")
    return links
  },
  "requesting.incoming": async () => {
    const links = await pair()
    links.bob.send(rtt("alice"))
    await expectMessage(links.alice, "Rtt")
    return links
  },
  "chatting.establishing (requester)": async () => {
    const links = await pair()
    links.alice.send(rtt("bob"))
    await expectMessage(links.bob, "Rtt")
    links.bob.send(message.accept("alice"))
    await expectMessage(links.alice, "Accept")
    return links
  },
  "chatting.establishing (accepter)": async () => {
    const links = await pair()
    links.bob.send(rtt("alice"))
    await expectMessage(links.alice, "Rtt")
    links.alice.send(message.accept("bob"))
    await expectMessage(links.bob, "Accept")
    return links
  },
  "chatting.active": async () => {
    const links = await pair()
    await establishChat(server, links.alice, links.bob)
    return links
  },
}

/** state → the illegal messages and the code each must get. */
const illegal: Record<string, ReadonlyArray<readonly [string, ClientMessage, ErrorCode]>> = {
  idle: [
    ["ACCEPT", message.accept("bob"), ErrorCode.IllegalState],
    ["REFUSE", message.refuse("bob"), ErrorCode.IllegalState],
    ["MESSAGE", message.chat, ErrorCode.IllegalState],
    ["CC_SESSION_ESTABLISHMENT", message.establish("bob"), ErrorCode.IllegalState],
    ["NOTIFY", message.notify("bob"), ErrorCode.IllegalState],
  ],
  "requesting.outgoing": [
    ["RTT", message.rtt, ErrorCode.IllegalState],
    ["ACCEPT", message.accept("bob"), ErrorCode.IllegalState],
    ["REFUSE", message.refuse("bob"), ErrorCode.IllegalState],
    ["MESSAGE", message.chat, ErrorCode.IllegalState],
    ["CC_SESSION_ESTABLISHMENT", message.establish("bob"), ErrorCode.IllegalState],
    ["NOTIFY other", message.notify("carol"), ErrorCode.WrongPeer],
  ],
  "requesting.incoming": [
    ["RTT", message.rtt, ErrorCode.IllegalState],
    ["ACCEPT other", message.accept("carol"), ErrorCode.WrongPeer],
    ["REFUSE other", message.refuse("carol"), ErrorCode.WrongPeer],
    ["MESSAGE", message.chat, ErrorCode.IllegalState],
    ["CC_SESSION_ESTABLISHMENT", message.establish("bob"), ErrorCode.IllegalState],
    ["NOTIFY", message.notify("bob"), ErrorCode.IllegalState],
  ],
  "chatting.establishing (requester)": [
    ["RTT", message.rtt, ErrorCode.IllegalState],
    ["ACCEPT", message.accept("bob"), ErrorCode.IllegalState],
    ["REFUSE", message.refuse("bob"), ErrorCode.IllegalState],
    ["MESSAGE", message.chat, ErrorCode.IllegalState],
    ["CC_SESSION_ESTABLISHMENT other", message.establish("carol"), ErrorCode.WrongPeer],
    ["NOTIFY other", message.notify("carol"), ErrorCode.WrongPeer],
  ],
  "chatting.establishing (accepter)": [
    ["RTT", message.rtt, ErrorCode.IllegalState],
    ["ACCEPT", message.accept("bob"), ErrorCode.IllegalState],
    ["REFUSE", message.refuse("bob"), ErrorCode.IllegalState],
    ["MESSAGE", message.chat, ErrorCode.IllegalState],
    ["CC_SESSION_ESTABLISHMENT", message.establish("bob"), ErrorCode.IllegalState],
    ["NOTIFY other", message.notify("carol"), ErrorCode.WrongPeer],
  ],
  "chatting.active": [
    ["RTT", message.rtt, ErrorCode.IllegalState],
    ["ACCEPT", message.accept("bob"), ErrorCode.IllegalState],
    ["REFUSE", message.refuse("bob"), ErrorCode.IllegalState],
    ["CC_SESSION_ESTABLISHMENT", message.establish("bob"), ErrorCode.IllegalState],
    ["NOTIFY other", message.notify("carol"), ErrorCode.WrongPeer],
  ],
}

describe("every illegal opcode in every state", () => {
  for (const [state, setup] of Object.entries(states)) {
    it(`${state}: ${illegal[state]!.map(([name]) => name).join(", ")}`, async () => {
      const { alice, bob } = await setup()
      try {
        for (const [name, sent, code] of illegal[state]!) {
          alice.send(sent)
          const error = await expectMessage(alice, "Error")
          expect({ name, code: error.code, fatal: error.fatal }).toEqual({ name, code, fatal: false })
          // not acted upon: bob heard nothing from it, and alice's connection still answers
          alice.send({ type: "Ping", value: 1n })
          expect(await expectMessage(alice, "Pong")).toEqual({ type: "Pong", value: 1n })
        }
        bob.send({ type: "Ping", value: 2n })
        const next = await bob.next(undefined, 1_000)
        expect(next).toEqual({ type: "Pong", value: 2n })
      } finally {
        alice.close()
        bob.close()
        await Promise.all([alice.closed, bob.closed])
      }
    })
  }
})

describe("the server stays healthy", () => {
  it("a fresh login works after all of the above", async () => {
    const carol = await login(server, "carol")
    carol.send({ type: "List" })
    expect((await expectMessage(carol, "List")).type).toBe("List")
    carol.close()
  })
})
