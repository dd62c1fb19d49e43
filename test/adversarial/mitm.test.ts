/**
 * A network attacker on the path (testkit/mitm/) between real clients and the
 * real server, phase by phase: login (§3), LIST, request (RTT), end-to-end establishment (ACCEPT,
 * CC_SESSION_ESTABLISHMENT, §8) and chat (MESSAGE). Every drop, duplicate, reorder, truncation,
 * injection, reflection and byte flip (every byte of a short frame, a sample of a long one) is
 * detected (§5.2: the connection ends, or the login fails) and nothing altered is ever delivered; a
 * pure delay only delays. The chat text never appears in the bytes the server receives or sends, in
 * its actors' events, or in its logs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeLogger } from "../../src/net/log.ts"
import { type CampaignRow, MitmCampaign } from "../../testkit/mitm/campaign.ts"
import { EVERY_BYTE_TARGETS, PHASES, sampledOffsets } from "../../testkit/mitm/catalogue.ts"
import { runMitmCase } from "../../testkit/mitm/run-case.ts"
import { PLAINTEXT_MARKER } from "../../testkit/mitm/session.ts"
import { describeOutcome } from "../../testkit/mitm/verdict.ts"
import { seededRandom } from "../../testkit/random.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"

let server: TestServer
let campaign: MitmCampaign
/** Where the server could see a chat text (its actors' events, its logs): must stay empty. */
const serverLeaks: string[] = []
let envelopesScanned = 0
const marker = Buffer.from(PLAINTEXT_MARKER, "utf8")

/** Looks for the marker in every byte array and string of a server-side value. */
const scan = (value: unknown, where: string, depth = 0): void => {
  if (value instanceof Uint8Array) {
    if (Buffer.from(value.buffer, value.byteOffset, value.length).indexOf(marker) >= 0)
      serverLeaks.push(where)
  } else if (typeof value === "string") {
    if (value.includes(PLAINTEXT_MARKER)) serverLeaks.push(where)
  } else if (typeof value === "object" && value !== null && depth < 4) {
    for (const item of Object.values(value)) scan(item, where, depth + 1)
  }
}

beforeAll(async () => {
  server = await startTestServer({
    users: [],
    log: makeLogger({ format: "json", level: "debug", write: (line) => scan(line, "server log") }),
    inspect: (event) => {
      if (event.type !== "@xstate.event") return
      if (event.event.type === "MESSAGE") envelopesScanned++
      scan(event.event, `actor event ${event.event.type}`)
    },
  })
  campaign = await MitmCampaign.start(server, { prefix: "m", concurrency: 10, random: seededRandom("mitm") })
})

afterAll(async () => {
  await server?.stop()
})

/** ONECHAT_MITM_REPORT=1 prints each attempt and how it ended. */
const report = (rows: ReadonlyArray<CampaignRow>): void => {
  if (process.env.ONECHAT_MITM_REPORT === undefined) return
  for (const { attempt, result } of rows) {
    console.log(
      `${attempt.target.phase} / ${attempt.target.what} / ${attempt.name} → ${describeOutcome(result.outcome)}`,
    )
  }
}

const problems = (rows: ReadonlyArray<CampaignRow>) => rows.flatMap((row) => row.problem ?? [])

describe("a network attacker on the path", { timeout: 120_000 }, () => {
  it("an honest session through the proxy delivers everything, and no chat text is on the wire", async () => {
    const honest = await runMitmCase(server, { upTo: "chat", names: campaign.newPair() })
    expect(honest.outcome).toEqual({ kind: "completed" })
    expect(honest.received).toEqual({ byBob: honest.sent.toBob, byAlice: honest.sent.toAlice })
    expect(honest.sent.toBob).toHaveLength(3)
    expect(honest.leaked).toEqual([])
  })

  for (const phase of PHASES) {
    it(`${phase}: every manipulation of every frame is detected, and a delay only delays`, async () => {
      const attempts = campaign.attemptsFor(phase)
      const rows = await campaign.run(attempts)
      report(rows)
      expect(rows).toHaveLength(attempts.length)
      expect(problems(rows)).toEqual([])
      expect(rows.filter((row) => row.attempt.action.kind === "delay").length).toBeGreaterThan(0)
    })

    it(`${phase}: flipping bytes of the ${EVERY_BYTE_TARGETS[phase].what} (all, or a sample of a long frame) is detected`, async () => {
      const frame = campaign.honestFrame(EVERY_BYTE_TARGETS[phase])
      const attempts = campaign.sampledBytes(phase)
      const offsets = sampledOffsets(frame)
      expect(offsets).toEqual(expect.arrayContaining([0, 4, frame.length - 1]))
      if (frame.length <= 200) expect(offsets).toHaveLength(frame.length)
      const rows = await campaign.run(attempts)
      report(rows)
      expect(rows).toHaveLength(offsets.length)
      expect(problems(rows)).toEqual([])
    })
  }

  it("the server relayed chat envelopes but never saw a chat text in its actors' events or logs", () => {
    expect(envelopesScanned).toBeGreaterThan(0)
    expect(serverLeaks).toEqual([])
  })
})
