/**
 * The server's folder (layout in ./layout.ts, ServerLayout): made once by the CA operator (the
 * server's key, its certificate, a copy of the CA certificate and CRL, an empty users/), and its
 * certificate renewed (`onechat ca renew-server`, 90 days by default). The CA is passed in, unlocked,
 * by the caller. Prints nothing; returns no key material. docs/protocol.md §3.2.
 */
import { X509Certificate } from "node:crypto"
import { isIP } from "node:net"
import { Effect } from "effect"
import type { KeyFileWriteOptions } from "../crypto/identity.ts"
import { exportEncryptedPrivateKeyPem, generateIdentity, keyObjectRawPublicKey } from "../crypto/identity.ts"
import { certificatePemToDer, derToPem, type IssuedCertificate } from "../crypto/pki.ts"
import type { Random } from "../crypto/primitives.ts"
import { issueServerInCa, type LoadedCa } from "./ca.ts"
import { StoreError, storeError } from "./errors.ts"
import {
  caLayout,
  makePrivateDirectory,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  readSmallFile,
  serverLayout,
  writeFileAtomic,
} from "./layout.ts"

export interface ServerNames {
  readonly dnsNames: ReadonlyArray<string>
  readonly ipAddresses: ReadonlyArray<string>
}

const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/

/**
 * The SANs of a server certificate: `names` (DNS names, or IP addresses given among them) and
 * `ips`, plus localhost and 127.0.0.1 when `withLocal`; deduplicated, DNS names lowercased.
 * InvalidName (subject "server name") for anything else.
 */
export const parseServerNames = (
  names: ReadonlyArray<string>,
  ips: ReadonlyArray<string>,
  withLocal: boolean,
): Effect.Effect<ServerNames, StoreError> => {
  const dnsNames = new Set(withLocal ? ["localhost"] : [])
  const ipAddresses = new Set(withLocal ? ["127.0.0.1"] : [])
  for (const name of [...names, ...ips]) {
    if (isIP(name) !== 0) ipAddresses.add(name)
    else if (!ips.includes(name) && DNS_NAME.test(name.toLowerCase())) dnsNames.add(name.toLowerCase())
    else return Effect.fail(new StoreError({ reason: "InvalidName", userName: name, subject: "server name" }))
  }
  return Effect.succeed({ dnsNames: [...dnsNames], ipAddresses: [...ipAddresses] })
}

/**
 * Makes the server folder `serverDir` (AlreadyExists when it holds a server key): a new key
 * encrypted with a generated `passphrase` stored beside it (0600), a certificate for `names` from
 * `ca`, copies of the CA certificate and of the CA folder's current CRL, and an empty users/.
 */
export const createServerFolder = Effect.fn("Store.createServerFolder")(function* (options: {
  readonly serverDir: string
  readonly caDir: string
  readonly ca: LoadedCa
  readonly names: ServerNames
  readonly passphrase: string
  readonly now: Date
  readonly random: Random
  readonly days?: number
  readonly keyFile?: KeyFileWriteOptions
}): Effect.fn.Return<IssuedCertificate, StoreError> {
  const layout = serverLayout(options.serverDir)
  for (const folder of [layout.root, layout.usersDir]) yield* makePrivateDirectory(folder, "server folder")
  const key = generateIdentity(options.random)
  const keyPem = exportEncryptedPrivateKeyPem(key, options.passphrase, {
    random: options.random,
    ...options.keyFile,
  })
  key.seed.wipe()
  key.secretKey.wipe()
  const write = (path: string, subject: string, data: string, mode: number, exclusive = true) =>
    writeFileAtomic({ path, subject }, data, { mode, exclusive })
  yield* write(layout.passphrase, "server key passphrase", `${options.passphrase}\n`, PRIVATE_FILE_MODE)
  yield* write(layout.key, "server private key", keyPem, PRIVATE_FILE_MODE)
  const issued = yield* issueServerInCa({
    caDir: options.caDir,
    ca: options.ca,
    publicKey: key.publicKey,
    ...options.names,
    now: options.now,
    random: options.random,
    ...(options.days === undefined ? {} : { days: options.days }),
  })
  const ca = caLayout(options.caDir)
  const crlPem = yield* readSmallFile({ path: ca.crl, subject: "certificate revocation list" })
  const caPem = derToPem(options.ca.certificateDer, "CERTIFICATE")
  yield* write(layout.caCertificate, "CA certificate", caPem, PUBLIC_FILE_MODE, false)
  yield* write(layout.crl, "certificate revocation list", crlPem, PUBLIC_FILE_MODE, false)
  yield* write(layout.certificate, "server certificate", issued.certificatePem, PUBLIC_FILE_MODE)
  return issued
})

/**
 * Issues a new certificate for the key certified by `serverDir`/server.cert.pem (only that file is
 * needed: the server's folder or a copy of its certificate), with `names` when given, else the
 * current certificate's names, and replaces that file. Returns the new certificate and its names.
 */
export const renewServerCertificate = Effect.fn("Store.renewServerCertificate")(function* (options: {
  readonly serverDir: string
  readonly caDir: string
  readonly ca: LoadedCa
  readonly names: ServerNames | undefined
  readonly now: Date
  readonly random: Random
  readonly days?: number
}): Effect.fn.Return<IssuedCertificate & { readonly names: ServerNames }, StoreError> {
  const layout = serverLayout(options.serverDir)
  const context = { path: layout.certificate, subject: "server certificate" }
  const der = certificatePemToDer(yield* readSmallFile(context))
  const current = der === undefined ? undefined : parse(der)
  if (current === undefined || current.publicKey.asymmetricKeyType !== "ed25519") {
    return yield* storeError("Malformed", context, "not a PEM certificate for an Ed25519 key")
  }
  const names = options.names ?? namesOf(current)
  const issued = yield* issueServerInCa({
    caDir: options.caDir,
    ca: options.ca,
    publicKey: keyObjectRawPublicKey(current.publicKey),
    ...names,
    now: options.now,
    random: options.random,
    ...(options.days === undefined ? {} : { days: options.days }),
  })
  yield* writeFileAtomic(context, issued.certificatePem, { mode: PUBLIC_FILE_MODE, exclusive: false })
  return { ...issued, names }
})

/** The DNS names and IP addresses of a certificate's subjectAltName. */
const namesOf = (certificate: X509Certificate): ServerNames => {
  const entries = (certificate.subjectAltName ?? "").split(", ")
  const pick = (prefix: string) =>
    entries.filter((entry) => entry.startsWith(prefix)).map((entry) => entry.slice(prefix.length))
  return { dnsNames: pick("DNS:"), ipAddresses: pick("IP Address:") }
}

const parse = (der: Uint8Array): X509Certificate | undefined => {
  try {
    return new X509Certificate(der)
  } catch {
    return undefined
  }
}
