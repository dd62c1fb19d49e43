/** `--server HOST[:PORT]`: every accepted shape, and a sentence for each refused one. */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { parseServerAddress } from "../../src/cli/server-address.ts"

const parsed = (value: string) => {
  const result = parseServerAddress(value, 7707)
  if (Result.isFailure(result)) throw new Error(result.failure)
  return result.success
}
const refusal = (value: string) => {
  const result = parseServerAddress(value, 7707)
  if (Result.isSuccess(result)) throw new Error(`accepted ${value}`)
  return result.failure
}

describe("parseServerAddress", () => {
  it.each([
    ["chat.example.org", { host: "chat.example.org", port: 7707 }],
    ["chat.example.org:9000", { host: "chat.example.org", port: 9000 }],
    ["10.0.0.5", { host: "10.0.0.5", port: 7707 }],
    ["127.0.0.2:1", { host: "127.0.0.2", port: 1 }],
    ["localhost:65535", { host: "localhost", port: 65_535 }],
    ["::1", { host: "::1", port: 7707 }],
    ["fe80::1", { host: "fe80::1", port: 7707 }],
    ["[::1]", { host: "::1", port: 7707 }],
    ["[2001:db8::7]:7708", { host: "2001:db8::7", port: 7708 }],
    [" host-1.example ", { host: "host-1.example", port: 7707 }],
  ])("%s", (value, expected) => {
    expect(parsed(value)).toEqual(expected)
  })

  it.each([
    ["", "it is empty"],
    ["chat.example.org:0", "from 1 to 65535"],
    ["chat.example.org:65536", "from 1 to 65535"],
    ["chat.example.org:http", "from 1 to 65535"],
    ["chat.example.org:", "from 1 to 65535"],
    ["[::1", "must close with ]"],
    ["[::1]7707", "only :PORT may follow ]"],
    ["[10.0.0.1]:7707", "is not an IPv6 address"],
    ["2001:db8::7:7708x", "[ADDRESS]:PORT"],
    ["bad host", "neither a host name nor an IP address"],
    ["-leading.example", "neither a host name nor an IP address"],
  ])("refuses %j", (value, why) => {
    const sentence = refusal(value)
    expect(sentence).toContain(`--server ${JSON.stringify(value)} is not HOST[:PORT]`)
    expect(sentence).toContain(why)
  })
})
