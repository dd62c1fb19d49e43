/**
 * Development folders only: when the CA sits beside the server (an `onechat init` folder, D/ca
 * with its passphrase file), the server re-issues the CRL itself before it is due, so the one-command
 * service keeps running past the CRL's 7 days. A folder without D/ca (real use: the CA is offline)
 * is never touched: there `onechat ca crl` on the CA machine does it. docs/protocol.md §3.2.
 */
import { existsSync } from "node:fs"
import { Effect } from "effect"
import { loadCa, reissueCrl, wipeCa } from "./ca.ts"
import { checkServerCrl } from "./crl.ts"
import { publishCrl } from "./dev-users.ts"
import type { StoreError } from "./errors.ts"
import { dataLayout } from "./layout.ts"

/** What `renewDevelopmentCrl` did. */
export type DevelopmentCrlRenewal =
  | { readonly renewed: false; readonly why: "no-ca-beside" | "fresh" }
  | { readonly renewed: true; readonly nextUpdate: Date }

/**
 * Re-issues and publishes (server folder and every client folder) the CRL of the development folder
 * `dir` when it is due or stale, with the CA key in `dir/ca`; nothing otherwise.
 */
export const renewDevelopmentCrl = Effect.fn("Store.renewDevelopmentCrl")(function* (
  dir: string,
  now: Date,
): Effect.fn.Return<DevelopmentCrlRenewal, StoreError> {
  const layout = dataLayout(dir)
  if (!existsSync(layout.ca.passphrase) || !existsSync(layout.server.crl)) {
    return { renewed: false, why: "no-ca-beside" } as const
  }
  const state = yield* checkServerCrl(layout.server, now)
  if (state.state === "fresh") return { renewed: false, why: "fresh" } as const
  const ca = yield* loadCa(layout.ca.root)
  const crl = yield* reissueCrl({ caDir: layout.ca.root, ca, now }).pipe(
    Effect.ensuring(Effect.sync(() => wipeCa(ca))),
  )
  yield* publishCrl(layout, crl.crlPem, crl.crlDer)
  return { renewed: true, nextUpdate: crl.nextUpdate } as const
})
