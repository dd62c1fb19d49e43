/**
 * StoreError: the one error type of src/store (the data folder: PKI files, user registry, client
 * keys), with a `reason` union and one human sentence per reason. Carries paths, user names
 * (public) and OS error codes; never passphrases, key bytes or file contents.
 */
import { Data } from "effect"

export type StoreErrorReason =
  | "NotFound"
  | "InvalidName"
  | "AlreadyExists"
  | "Unreadable"
  | "Malformed"
  | "WrongPassphrase"
  | "InsecurePermissions"
  | "Io"

export interface StoreErrorFields {
  readonly reason: StoreErrorReason
  /** The file or folder concerned (absolute). */
  readonly path?: string
  /**
   * The user name concerned (public), or the rejected name for "InvalidName". Not `name`: that
   * would replace `Error.prototype.name` ("StoreError") in stack traces and `String(error)`.
   */
  readonly userName?: string
  /** What the file holds, e.g. "private key", "CA certificate"; used in the sentence. */
  readonly subject?: string
  /** A public fact: an OS error code ("EACCES"), or which check failed. */
  readonly detail?: string
}

/** Longest rejected name echoed back in a message (names come from users and the network). */
const MAX_ECHOED_NAME = 40

const echo = (name: string): string =>
  JSON.stringify(name.length > MAX_ECHOED_NAME ? `${name.slice(0, MAX_ECHOED_NAME)}…` : name)

const sentence = (error: StoreErrorFields): string => {
  const subject = error.subject ?? "file"
  const forUser = error.userName === undefined ? "" : ` for user ${echo(error.userName)}`
  const at = error.path === undefined ? "" : ` at ${error.path}`
  const why = error.detail === undefined ? "" : ` (${error.detail})`
  switch (error.reason) {
    case "NotFound":
      return `No ${subject}${forUser} in ${error.path ?? "the data folder"}.`
    case "InvalidName":
      return error.subject === undefined
        ? `${echo(error.userName ?? "")} is not a valid user name: 1 to 32 characters from a-z, 0-9, "_" and "-", starting with a letter or digit.`
        : `${echo(error.userName ?? "")} is not a valid ${error.subject}.`
    case "AlreadyExists":
      return `The ${subject}${forUser} already exists${at}${why}.`
    case "Unreadable":
      return `The ${subject}${forUser}${at} cannot be read${why}.`
    case "Malformed":
      return `The ${subject}${forUser}${at} is not valid${why}.`
    case "WrongPassphrase":
      return `The passphrase does not unlock the ${subject}${forUser}${at}.`
    case "InsecurePermissions":
      return `The ${subject}${forUser}${at} has mode ${error.detail ?? "with group or other access"}: other users may read or change it, so onechat refuses it (as ssh does). Run \`chmod 600 ${error.path ?? "FILE"}\` and try again.`
    case "Io":
      return `The ${subject}${forUser}${at} could not be accessed${why}.`
  }
}

/** A data-folder operation that failed. Safe to print: no secrets in any field. */
export class StoreError extends Data.TaggedError("StoreError")<StoreErrorFields> {
  override get message(): string {
    return sentence(this)
  }
}

/** Context for mapping a node:fs failure: which file, holding what, for whom. */
export interface FileContext {
  readonly path: string
  readonly subject: string
  readonly userName?: string
  /** Set for writes, renames and folder creation: a permission error is then "Io", not "Unreadable". */
  readonly writing?: boolean
}

const withContext = (reason: StoreErrorReason, context: FileContext, detail?: string): StoreError =>
  new StoreError({
    reason,
    path: context.path,
    subject: context.subject,
    ...(context.userName === undefined ? {} : { userName: context.userName }),
    ...(detail === undefined ? {} : { detail }),
  })

/** Maps an error thrown by node:fs to a StoreError; only the errno code is kept, never the message. */
export const fromFsError = (cause: unknown, context: FileContext): StoreError => {
  const code =
    typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
      ? cause.code
      : undefined
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return withContext("NotFound", context)
    case "EEXIST":
      return withContext("AlreadyExists", context)
    case "EACCES":
    case "EPERM":
    case "EISDIR":
      return withContext(context.writing === true ? "Io" : "Unreadable", context, code)
    default:
      return withContext("Io", context, code ?? "unexpected failure")
  }
}

/** A StoreError of `reason` about the file described by `context`. */
export const storeError = (reason: StoreErrorReason, context: FileContext, detail?: string): StoreError =>
  withContext(reason, context, detail)
