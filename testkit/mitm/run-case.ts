/**
 * One attempt end to end: a fresh proxy with at most one rule in front of the server, a session of
 * two real clients through it (session.ts), and the result the verdict (verdict.ts) judges —
 * the outcome, whether the rule fired, altered deliveries, and chat text seen on the wire.
 */
import type { TestServer } from "../server.ts"
import { MitmProxy } from "./proxy.ts"
import type { Phase, Rule } from "./rules.ts"
import { type MitmOutcome, MitmRun, PLAINTEXT_MARKER } from "./session.ts"

export interface MitmCase {
  /** At most one manipulation; none for an honest run. */
  readonly rule?: Rule
  /** The last phase to run: login → (list) → request → e2e → chat. */
  readonly upTo: Phase
  /** The requester (connection 0) and the accepter (connection 1); registered on the fly. */
  readonly names: readonly [string, string]
}

export interface MitmResult {
  readonly outcome: MitmOutcome
  /** Frames the rule was applied to (1 when the selected frame existed). */
  readonly fired: number
  /** Deliveries that differ from what was sent: must stay empty. */
  readonly altered: ReadonlyArray<string>
  readonly sent: { readonly toBob: ReadonlyArray<string>; readonly toAlice: ReadonlyArray<string> }
  readonly received: { readonly byBob: ReadonlyArray<string>; readonly byAlice: ReadonlyArray<string> }
  /** Chat texts (or the marker) whose UTF-8 bytes appeared in the proxied traffic: must stay empty. */
  readonly leaked: ReadonlyArray<string>
  readonly proxy: MitmProxy
}

/**
 * Runs one case: a fresh proxy in front of `server` with `rule`, two real clients through it up
 * to `upTo`, then waits for the manipulation to be detected (or, for an honest run or a pure
 * delay, proves both links still work). Never throws for what the clients or server do.
 */
export const runMitmCase = async (server: TestServer, mitmCase: MitmCase): Promise<MitmResult> => {
  const proxy = await MitmProxy.start({ host: "127.0.0.1", port: server.port })
  proxy.rules = mitmCase.rule === undefined ? [] : [mitmCase.rule]
  const run = new MitmRun(server, proxy, mitmCase.names)
  let outcome: MitmOutcome
  try {
    await run.scenario(mitmCase.upTo)
    outcome = await run.settle(mitmCase.rule === undefined || mitmCase.rule.action.kind === "delay")
  } catch (error) {
    outcome = await run.classify(error)
  } finally {
    run.stop()
    await proxy.close()
  }
  const texts = [PLAINTEXT_MARKER, ...run.sent.toBob, ...run.sent.toAlice]
  return {
    outcome,
    fired: proxy.fired.length,
    altered: run.altered,
    sent: run.sent,
    received: run.received,
    leaked: texts.filter((text) => proxy.sawBytes(Buffer.from(text, "utf8"))),
    proxy,
  }
}
