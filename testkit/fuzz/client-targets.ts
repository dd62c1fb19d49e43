/**
 * Fuzz target: the client link against a hostile server. SERVER_HELLO, the authentication
 * record, the 1.3 LIST or the records after it are replaced by garbage, mutated records, or
 * validly sealed records of arbitrary plaintext. The link must reject the login with a LinkError,
 * or deliver exactly the messages of the genuine records that decode (in order) and then close
 * with reason "protocol", "server-error" or "eof" as an oracle predicts — never throw, never
 * leave an unhandled rejection. Test-only; real TCP. docs/protocol.md §3, §5, §6.
 */
import { Result } from "effect"
import fc from "fast-check"
import { type ClientLink, connectLink, type LinkClosed, LinkError } from "../../src/client/link.ts"
import type { LoginIdentity } from "../../src/crypto/handshake-client.ts"
import { generateIdentity } from "../../src/crypto/identity.ts"
import { decodeServerMessages, type ServerMessage } from "../../src/protocol/index.ts"
import { NOW, type TestPki } from "../pki.ts"
import { seededRandom } from "../random.ts"
import {
  alertSample,
  framed,
  handshakePlaintext,
  serverHelloSample,
  serverMessage,
  serverPlaintext,
} from "./arbitraries.ts"
import { sameValue } from "./checks.ts"
import { type HostileItem, type HostileScript, type SentItem, startHostileServer } from "./hostile-server.ts"
import { applyMutations, mutationsArbitrary } from "./mutate.ts"
import { type FuzzTarget, type ProcessFaults, within } from "./runner.ts"

const plaintext = fc.oneof(
  { weight: 3, arbitrary: serverPlaintext(undefined, 4).map(({ sample }) => sample.bytes) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(serverPlaintext(undefined, 4), mutationsArbitrary(3))
      .map(([{ sample }, mutations]) => applyMutations(sample, mutations))
      .filter((bytes) => bytes.length > 0 && bytes.length <= 65_536),
  },
)

const item: fc.Arbitrary<HostileItem> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("messages" as const),
      messages: fc.array(serverMessage(), { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("sealed" as const), plaintext }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("mutated" as const),
      plaintext,
      mutations: mutationsArbitrary(3),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("garbage" as const), bytes: fc.uint8Array({ maxLength: 80 }) }),
  },
)

const welcomeItem: fc.Arbitrary<HostileItem> = fc.oneof(
  item,
  fc.array(serverMessage(), { maxLength: 3 }).map((rest) => ({
    kind: "messages" as const,
    messages: [{ type: "List" as const, total: 1, names: ["bob"] }, ...rest],
  })),
)

const script: fc.Arbitrary<HostileScript> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.uint8Array({ maxLength: 100 }),
        fc
          .tuple(fc.oneof(serverHelloSample, alertSample), mutationsArbitrary(3))
          .map(([s, m]) => applyMutations(framed(s), m)),
        alertSample.map((s) => framed(s).bytes),
      )
      .map((bytes) => ({ phase: "hello" as const, bytes })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.record({ kind: fc.constant("genuine" as const), mutations: mutationsArbitrary(3) }),
        item,
        handshakePlaintext(4).map(({ sample }) => ({ kind: "sealed" as const, plaintext: sample.bytes })),
      )
      .map((hostile) => ({ phase: "auth" as const, item: hostile })),
  },
  { weight: 2, arbitrary: welcomeItem.map((hostile) => ({ phase: "welcome" as const, item: hostile })) },
  {
    weight: 6,
    arbitrary: fc.array(item, { maxLength: 5 }).map((items) => ({ phase: "app" as const, items })),
  },
)

type Expected =
  | { readonly settle: "reject" }
  | {
      readonly settle: "resolve"
      readonly delivered: ReadonlyArray<ServerMessage>
      readonly closed: LinkClosed["reason"]
      readonly code?: number
      /** Bad bytes were on the wire: the link may stop at them earlier than predicted. */
      readonly early?: boolean
    }

/** What the link must do with the messages of genuine records, in order, after a completed login. */
const afterLogin = (
  sent: ReadonlyArray<SentItem>,
  delivered: ServerMessage[],
): Extract<Expected, { readonly settle: "resolve" }> => {
  for (const [index, entry] of sent.entries()) {
    if (!entry.genuine && entry.bytes.length === 0) {
      // A record sealed, then truncated to nothing: nothing went out, but its counter was used, so
      // any later record is a gap (protocol); with nothing after it, the server just closed (eof).
      const later = sent.slice(index + 1).some((next) => next.bytes.length > 0)
      return { settle: "resolve", delivered, closed: later ? "protocol" : "eof" }
    }
    if (!entry.genuine) {
      // A genuine record ahead of the damage may be delivered first (the link then stops at the
      // damage, or at that record's own fatal ERROR).
      const intact =
        entry.intactPrefix === true && entry.plaintext !== undefined
          ? decodeServerMessages(entry.plaintext)
          : undefined
      if (intact === undefined || Result.isFailure(intact))
        return { settle: "resolve", delivered, closed: "protocol" }
      delivered.push(...intact.success)
      const fatal = intact.success.find((m) => m.type === "Error" && m.fatal)
      return fatal?.type === "Error"
        ? { settle: "resolve", delivered, closed: "server-error", code: fatal.code }
        : { settle: "resolve", delivered, closed: "protocol" }
    }
    if (entry.plaintext === undefined) continue
    const messages = decodeServerMessages(entry.plaintext)
    if (Result.isFailure(messages)) return { settle: "resolve", delivered, closed: "protocol" }
    delivered.push(...messages.success)
    const fatal = messages.success.find((m) => m.type === "Error" && m.fatal)
    if (fatal?.type === "Error")
      return { settle: "resolve", delivered, closed: "server-error", code: fatal.code }
  }
  return { settle: "resolve", delivered, closed: "eof" }
}

/** The oracle: from the script and what actually went on the wire. */
const expected = (hostile: HostileScript, sent: ReadonlyArray<SentItem>): Expected => {
  if (hostile.phase === "hello" || hostile.phase === "auth") return { settle: "reject" }
  if (hostile.phase === "app") {
    const predicted = afterLogin(sent.slice(1), [])
    return sent.some((entry) => !entry.genuine) ? { ...predicted, early: true } : predicted
  }
  const [welcome] = sent
  if (welcome === undefined || !welcome.genuine || welcome.plaintext === undefined)
    return { settle: "reject" }
  const messages = decodeServerMessages(welcome.plaintext)
  if (Result.isFailure(messages) || messages.success[0]?.type !== "List") return { settle: "reject" }
  const rest = messages.success.slice(1)
  const fatal = rest.find((m) => m.type === "Error" && m.fatal)
  return fatal?.type === "Error"
    ? { settle: "resolve", delivered: rest, closed: "server-error", code: fatal.code }
    : { settle: "resolve", delivered: rest, closed: "eof" }
}

const fail = (what: string): never => {
  throw new Error(what)
}

/** Connects to the hostile server and observes what the link does. */
const observe = async (port: number, pki: TestPki, identity: LoginIdentity) => {
  let link: ClientLink
  try {
    link = await within(
      connectLink({
        host: "127.0.0.1",
        port,
        serverName: "localhost",
        trust: { caCertificateDer: pki.caCertificateDer },
        identity,
        now: () => NOW,
        connectTimeoutMs: 5_000,
      }),
      "connectLink settles",
      8_000,
    )
  } catch (error) {
    if (!(error instanceof LinkError)) fail(`connectLink rejected with a ${String(error)}, not a LinkError`)
    return { settle: "reject" as const }
  }
  const delivered: ServerMessage[] = []
  link.onMessage((message) => delivered.push(message))
  const closed = await within(link.closed, "the link closes", 8_000)
  return { settle: "resolve" as const, delivered, closed }
}

const same = (a: ReadonlyArray<ServerMessage>, b: ReadonlyArray<ServerMessage>): boolean => sameValue(a, b)

/**
 * Compares what the link did with the oracle. A breach may come earlier than predicted (bad bytes
 * may be detected before the genuine record ahead of them in the same item is delivered), so when
 * bad bytes were sent, a rejected login, or a "protocol" close after a prefix of the messages, is
 * also correct.
 */
const checkOutcome = (seen: Awaited<ReturnType<typeof observe>>, want: Expected): void => {
  const early = want.settle === "resolve" && want.early === true
  if (seen.settle === "reject") {
    if (want.settle === "reject" || early) return
    fail("the login was rejected; it should have completed")
  }
  if (seen.settle !== "resolve" || want.settle !== "resolve")
    return fail("the login completed; it should not have")
  const stoppedEarly = early && seen.closed.reason === "protocol"
  if (seen.closed.reason !== want.closed && !stoppedEarly) {
    fail(`closed with ${JSON.stringify(seen.closed)}, expected ${want.closed}`)
  }
  if (want.code !== undefined && seen.closed.reason === "server-error" && seen.closed.code !== want.code) {
    fail(`fatal code ${seen.closed.code}, expected ${want.code}`)
  }
  const wanted = stoppedEarly ? want.delivered.slice(0, seen.delivered.length) : want.delivered
  if (!same(seen.delivered, wanted)) fail("delivered messages differ from the genuine ones")
}

/** The client-link target, against a hostile server it starts (stopped by `stop`). */
export const clientLinkTarget = async (pki: TestPki, faults: ProcessFaults) => {
  const identity: LoginIdentity = { name: "alice", key: generateIdentity(seededRandom("fuzz-alice")) }
  const hostile = await startHostileServer(pki, identity)
  const target: FuzzTarget = {
    name: "client/hostile-server",
    kind: "tcp",
    property: (tally) =>
      fc.asyncProperty(script, async (hostileScript) => {
        tally.inputs()
        const faultsBefore = faults.unhandledRejections + faults.uncaughtExceptions
        hostile.script = hostileScript
        const seen = await observe(hostile.port, pki, identity)
        const want = expected(hostileScript, hostile.sent)
        checkOutcome(seen, want)
        if (seen.settle === "reject" || seen.closed.reason === "protocol") tally.rejected()
        if (faults.unhandledRejections + faults.uncaughtExceptions !== faultsBefore)
          fail(`process fault: ${faults.samples.join("; ")}`)
        return true
      }),
  }
  return { target, stop: () => hostile.stop() }
}
