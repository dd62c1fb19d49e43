/**
 * The client's `--server HOST[:PORT]` (env ONECHAT_SERVER): where to connect. HOST is a DNS name,
 * an IPv4 address, or an IPv6 address (bare, or in brackets when a port follows: `[::1]:7707`).
 * Without a port, onechat's default port. Pure; a bad value is one sentence naming the flag.
 */
import { isIP } from "node:net"
import { Result } from "effect"

export interface ServerAddress {
  readonly host: string
  readonly port: number
}

/** DNS names as RFC 1123 allows them (labels of letters, digits and hyphens). */
const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/

const invalid = (value: string, why: string) =>
  Result.fail(`--server ${JSON.stringify(value)} is not HOST[:PORT]: ${why}.`)

const parsePort = (text: string): number | undefined => {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65_535 ? port : undefined
}

/** `value` as host and port (`defaultPort` when it names none), or why it is not an address. */
export const parseServerAddress = (
  value: string,
  defaultPort: number,
): Result.Result<ServerAddress, string> => {
  const text = value.trim()
  if (text === "") return invalid(value, "it is empty")
  let host: string
  let portText: string | undefined
  if (text.startsWith("[")) {
    const close = text.indexOf("]")
    if (close === -1) return invalid(value, "an IPv6 address opened with [ must close with ]")
    host = text.slice(1, close)
    const rest = text.slice(close + 1)
    if (rest !== "" && !rest.startsWith(":")) return invalid(value, "only :PORT may follow ]")
    portText = rest === "" ? undefined : rest.slice(1)
    if (isIP(host) !== 6) return invalid(value, `${JSON.stringify(host)} is not an IPv6 address`)
  } else if (isIP(text) === 6) {
    host = text
  } else {
    const colon = text.lastIndexOf(":")
    host = colon === -1 ? text : text.slice(0, colon)
    portText = colon === -1 ? undefined : text.slice(colon + 1)
    if (host.includes(":")) return invalid(value, "write an IPv6 address with a port as [ADDRESS]:PORT")
    if (isIP(host) === 0 && !DNS_NAME.test(host)) {
      return invalid(value, `${JSON.stringify(host)} is neither a host name nor an IP address`)
    }
  }
  if (portText === undefined) return Result.succeed({ host, port: defaultPort })
  const port = parsePort(portText)
  if (port === undefined) return invalid(value, `the port must be a number from 1 to 65535`)
  return Result.succeed({ host, port })
}
