/**
 * The TLS baselines' credentials: the same Ed25519 server certificate and key as the onechat
 * server (the dev PKI's server/server.cert.pem and server.key.pem, decrypted with
 * server/server.passphrase), and the CA certificate clients trust.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { ed25519PrivateKeyObject, importEncryptedPrivateKeyPem } from "../../src/crypto/identity.ts"

/** The key is decrypted by onechat's own reader: OpenSSL refuses scrypt at N = 2^17, r = 8 (128 MiB). */
export const tlsServerCredentials = (dir: string): { readonly key: string; readonly cert: string } => {
  const passphrase = readFileSync(join(dir, "server", "server.passphrase"), "utf8").split(/\r?\n/)[0]!
  const pem = readFileSync(join(dir, "server", "server.key.pem"), "utf8")
  const key = ed25519PrivateKeyObject(Result.getOrThrow(importEncryptedPrivateKeyPem(pem, passphrase)).seed)
  return {
    key: key.export({ type: "pkcs8", format: "pem" }).toString(),
    cert: readFileSync(join(dir, "server", "server.cert.pem"), "utf8"),
  }
}

/**
 * The key-exchange group of each TLS login baseline. Node 24 (OpenSSL 3.5) negotiates
 * X25519MLKEM768 by default, so "tls" (the baseline of earlier runs) was already hybrid; both are
 * now set explicitly, on the server and on the client (which then sends one key share only).
 */
export const TLS_LOGIN_GROUPS = { tls: "X25519MLKEM768", "tls-x25519": "X25519" } as const
export type TlsLoginTarget = keyof typeof TLS_LOGIN_GROUPS

export const tlsCaCertificate = (dir: string): string => readFileSync(join(dir, "ca", "ca.cert.pem"), "utf8")

/** Parses `--name value` pairs of a baseline server's command line. */
export const flag = (name: string, fallback?: string): string => {
  const index = process.argv.indexOf(`--${name}`)
  const value = index >= 0 ? process.argv[index + 1] : fallback
  if (value === undefined) throw new Error(`missing --${name}`)
  return value
}
