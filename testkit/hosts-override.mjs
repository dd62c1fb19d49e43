/**
 * A hosts-file entry for one test process tree, without touching /etc/hosts: loaded with
 * `NODE_OPTIONS=--import <this file>`, it makes `dns.lookup` (what node:net uses to connect)
 * answer the names in ONECHAT_TEST_HOSTS ("name=address,name=address") with those addresses and
 * pass every other name on. Plain JavaScript so it loads before any TypeScript loader; tests only.
 */
import dns from "node:dns"
import { isIP } from "node:net"

const entries = new Map(
  (process.env.ONECHAT_TEST_HOSTS ?? "")
    .split(",")
    .filter((entry) => entry.includes("="))
    .map((entry) => {
      const [name, address] = entry.split("=")
      return [name.trim().toLowerCase(), address.trim()]
    }),
)

const lookup = dns.lookup
dns.lookup = function lookupWithOverrides(hostname, options, callback) {
  const address = typeof hostname === "string" ? entries.get(hostname.toLowerCase()) : undefined
  if (address === undefined) return lookup.call(dns, hostname, options, callback)
  const done = typeof options === "function" ? options : callback
  const wantsAll = typeof options === "object" && options !== null && options.all === true
  const family = isIP(address)
  process.nextTick(() => (wantsAll ? done(null, [{ address, family }]) : done(null, address, family)))
}
