/**
 * Why a client link could not be opened (LinkError) and why an open link ended (LinkClosed), each
 * with a sentence a person can read. Pure data: carries addresses, codes and the server's texts,
 * never key material or message payloads. docs/protocol.md §2.4 (ALERT), §3.3 (refused login), §7.
 */
import { Data } from "effect"
import { ErrorCode, errorCodeInfo } from "../protocol/error-codes.ts"

/** Why `connectLink` failed. */
export type LinkErrorReason =
  /** No TCP connection: refused, unreachable, or the host name does not resolve (see `detail`). */
  | "ConnectionRefused"
  /** The connection plus login did not complete in time (or `next()` waited in vain). */
  | "Timeout"
  /** The login handshake failed on our side: certificate not trusted, bad signature, ... */
  | "Handshake"
  /** The server answered the login with a fatal ERROR in place of 1.3 (`code`, §3.3). */
  | "LoginRefused"
  /** A plaintext ALERT frame arrived in place of SERVER_HELLO (`code`, §2.4). Unauthenticated. */
  | "Alert"
  /** The connection ended before the login completed (or before an awaited message arrived). */
  | "Closed"
  /** The server sent bytes that break the protocol during login. */
  | "Protocol"

interface LinkErrorFields {
  readonly reason: LinkErrorReason
  /** The error code the server sent (LoginRefused, Alert). */
  readonly code?: number
  /** A human clause without final period: an address, the server's text, the handshake's sentence. */
  readonly detail?: string
}

const withPeriod = (text: string): string => (/[.!?]$/.test(text) ? text : `${text}.`)

const codeSentence = (code: number | undefined): string =>
  code === undefined ? "no reason given." : errorCodeInfo(code).sentence

/** " The server said: …" when the server's own text adds something to the code's sentence. */
const serverSaid = (code: number | undefined, text: string | undefined): string =>
  text === undefined || text === "" || text === codeSentence(code)
    ? ""
    : ` The server said: ${withPeriod(text)}`

const sentences: Record<LinkErrorReason, (error: LinkErrorFields) => string> = {
  ConnectionRefused: (e) => withPeriod(`Could not connect to ${e.detail ?? "the server"}`),
  Timeout: (e) => withPeriod(`The connection timed out: ${e.detail ?? "the server did not answer"}`),
  Handshake: (e) => withPeriod(e.detail ?? "The login handshake with the server failed"),
  LoginRefused: (e) =>
    e.code === ErrorCode.LoginFailed
      ? // The server says no more on purpose (§3.3: no user enumeration), so the client says what to check.
        "The server refused the login: it does not accept this user name with this key. It does not say why " +
        "(unknown name, revoked certificate or another key): check the name and key file, or ask the operator."
      : `The server refused the login: ${codeSentence(e.code)}${serverSaid(e.code, e.detail)}`,
  Alert: (e) =>
    `The server (or someone on the path) closed the connection: ${
      e.detail === undefined || e.detail === "" ? codeSentence(e.code) : withPeriod(e.detail)
    }`,
  Closed: (e) => withPeriod(e.detail ?? "The server closed the connection during login"),
  Protocol: (e) => withPeriod(`The server broke the onechat protocol: ${e.detail ?? "unexpected data"}`),
}

/** A client link that could not be opened (or a `next()` that could not be satisfied). */
export class LinkError extends Data.TaggedError("LinkError")<LinkErrorFields> {
  override get message(): string {
    return sentences[this.reason](this)
  }
}

/** Why an open link ended. */
export type LinkClosed =
  /** We closed it (`close()`). */
  | { readonly reason: "local" }
  /** The server sent a fatal ERROR (then closes). */
  | { readonly reason: "server-error"; readonly code: number; readonly text: string }
  /** The server closed the connection without an ERROR. */
  | { readonly reason: "eof" }
  /** A frame or record from the server failed its checks; nothing of it was delivered. */
  | { readonly reason: "protocol"; readonly message: string }
  /** The socket failed (reset, ...). */
  | { readonly reason: "socket"; readonly message: string }

/** One sentence for a person saying why the link ended. */
export const describeLinkClosed = (closed: LinkClosed): string => {
  switch (closed.reason) {
    case "local":
      return "You closed the connection."
    case "server-error":
      return `The server ended the connection: ${codeSentence(closed.code)}${serverSaid(closed.code, closed.text)}`
    case "eof":
      return "The server closed the connection."
    case "protocol":
      return withPeriod(`The connection was closed because the server broke the protocol: ${closed.message}`)
    case "socket":
      return withPeriod(`The connection failed: ${closed.message}`)
  }
}
