/**
 * The onechat TCP server as an Effect resource: the supervisor actor, the listener, and one
 * scoped fiber per socket (each owning a ConnectionBridge). Admission limits (connection cap,
 * handshakes in flight per address) are enforced here, before any actor exists. Closing the scope
 * shuts down gracefully: stop accepting, tell every client, wait within a bound, then force.
 */
import { createServer, type Server, type Socket } from "node:net"
import { Data, Effect, FiberSet } from "effect"
import { createActor, type InspectionEvent } from "xstate"
import type { ConnectionLimits } from "../actors/connection.machine.ts"
import { connectionActorOf, supervisorMachine } from "../actors/supervisor.machine.ts"
import type { ServerCredentials } from "../crypto/handshake-server.ts"
import { type Random, systemRandom } from "../crypto/primitives.ts"
import { ErrorCode, encodeAlert, encodeFrame, errorCodeInfo } from "../protocol/index.ts"
import { ConnectionBridge, type UserLookup } from "./connection-bridge.ts"
import type { Logger } from "./log.ts"

export interface ServerConfig {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  readonly maxConnections: number
  readonly maxHandshakesPerAddress: number
  readonly maxOutboundBytes: number
  readonly closeGraceMs: number
  readonly shutdownGraceMs: number
  readonly limits: ConnectionLimits
}

export interface ServerDeps {
  /** The server's key, certificate and stapled CRL; a function is asked at each new connection (CRL reload). */
  readonly credentials: ServerCredentials | (() => ServerCredentials)
  readonly lookupUser: UserLookup
  readonly log: Logger
  readonly random?: Random
  /** The supervisor to run; tests pass a variant with faults injected (`supervisorMachine.provide`). */
  readonly machine?: typeof supervisorMachine
  /** Receives XState's inspection events of the supervisor and every connection it spawns. */
  readonly inspect?: (event: InspectionEvent) => void
}

export interface RunningServer {
  readonly host: string
  readonly port: number
  readonly supervisor: ReturnType<typeof createActor<typeof supervisorMachine>>
  /** Open sockets right now (logged in or not). */
  connectionCount(): number
}

/** The listener could not be opened. */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly host: string
  readonly port: number
  readonly code: string
}> {
  override get message(): string {
    const why =
      this.code === "EADDRINUSE"
        ? "the address is already in use (another server running?)"
        : this.code === "EACCES"
          ? "permission denied"
          : this.code === "EADDRNOTAVAIL"
            ? "no such local address"
            : `error ${this.code}`
    return `Cannot listen on ${this.host}:${this.port}: ${why}.`
  }
}

const listen = (server: Server, host: string, port: number) =>
  Effect.callback<{ host: string; port: number }, ListenError>((resume) => {
    const onError = (error: NodeJS.ErrnoException) =>
      resume(Effect.fail(new ListenError({ host, port, code: error.code ?? "UNKNOWN" })))
    server.once("error", onError)
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", onError)
      const address = server.address()
      if (address === null || typeof address === "string") {
        resume(Effect.fail(new ListenError({ host, port, code: "NOADDRESS" })))
        return
      }
      resume(Effect.succeed({ host: address.address, port: address.port }))
    })
  })

const refuse = (socket: Socket, code: ErrorCode): void => {
  socket.on("error", () => {})
  socket.end(encodeFrame(encodeAlert({ code, text: errorCodeInfo(code).sentence })))
  setTimeout(() => socket.destroy(), 1_000).unref()
}

/** Starts serving; the server lives as long as the enclosing scope. */
export const serve = Effect.fn("Server.serve")(function* (config: ServerConfig, deps: ServerDeps) {
  const { log } = deps
  const supervisor = yield* Effect.acquireRelease(
    Effect.sync(() =>
      createActor(deps.machine ?? supervisorMachine, {
        input: { limits: config.limits },
        ...(deps.inspect === undefined ? {} : { inspect: deps.inspect }),
      }).start(),
    ),
    (actor) =>
      Effect.sync(() => {
        actor.send({ type: "HALT" })
        actor.stop()
      }),
  )
  supervisor.on("user.online", (e) => log.info("user.online", { connection: e.connectionId, user: e.name }))
  supervisor.on("user.offline", (e) => log.info("user.offline", { connection: e.connectionId, user: e.name }))
  /** Every open socket's bridge, by connection id. */
  const bridges = new Map<string, ConnectionBridge>()
  // The supervisor opens and closes the direct relay line between two chatting connections.
  supervisor.on("chat.open", ({ between: [a, b] }) => {
    const [first, second] = [bridges.get(a), bridges.get(b)]
    if (first === undefined || second === undefined) return
    first.linkChat(second)
    second.linkChat(first)
  })
  supervisor.on("chat.closed", ({ between: [a, b] }) => {
    const [first, second] = [bridges.get(a), bridges.get(b)]
    first?.unlinkChat(second)
    second?.unlinkChat(first)
  })
  supervisor.on("connection.failed", (e) =>
    log.error("connection.failed", { connection: e.connectionId, error: e.error }),
  )

  const fork = yield* FiberSet.makeRuntime<never, void, never>()
  const handshakes = new Map<string, number>()
  let nextId = 0
  let accepting = true

  const admit = (socket: Socket): void => {
    const address = socket.remoteAddress ?? "unknown"
    if (!accepting) {
      refuse(socket, ErrorCode.ShuttingDown)
      return
    }
    if (bridges.size >= config.maxConnections) {
      log.warn("connection.refused", { address, reason: "connection limit" })
      refuse(socket, ErrorCode.ServerBusy)
      return
    }
    const inFlight = handshakes.get(address) ?? 0
    if (inFlight >= config.maxHandshakesPerAddress) {
      log.warn("connection.refused", { address, reason: "handshake limit" })
      refuse(socket, ErrorCode.RateLimited)
      return
    }
    handshakes.set(address, inFlight + 1)
    const connectionId = `c${(++nextId).toString(36)}`
    supervisor.send({ type: "CONNECTION_OPENED", connectionId })
    const actor = connectionActorOf(supervisor, connectionId)
    if (actor === undefined) {
      refuse(socket, ErrorCode.ShuttingDown)
      return
    }
    log.debug("connection.opened", { connection: connectionId, address })
    const bridge = new ConnectionBridge({
      connectionId,
      socket,
      actor,
      credentials: typeof deps.credentials === "function" ? deps.credentials() : deps.credentials,
      lookupUser: deps.lookupUser,
      random: deps.random ?? systemRandom,
      log,
      maxOutboundBytes: config.maxOutboundBytes,
      closeGraceMs: config.closeGraceMs,
      activityIntervalMs: Math.min(1_000, config.limits.idlePingMs / 10),
      onLoginSettled: () => {
        const count = (handshakes.get(address) ?? 1) - 1
        if (count <= 0) handshakes.delete(address)
        else handshakes.set(address, count)
      },
    })
    bridges.set(connectionId, bridge)
    actor.subscribe({ error: () => bridge.destroy() })
    fork(
      Effect.callback<void>((resume) => {
        bridge.done.then(() => resume(Effect.void))
        return Effect.sync(() => bridge.destroy())
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            bridges.delete(connectionId)
            log.debug("connection.closed", { connection: connectionId })
          }),
        ),
      ),
    )
  }

  const server = createServer({ noDelay: true }, (socket) => {
    try {
      admit(socket)
    } catch (error) {
      log.error("connection.admit-failed", { error: error instanceof Error ? error.message : String(error) })
      socket.destroy()
    }
  })
  server.maxConnections = config.maxConnections + 64 // hard backstop above the polite ALERT
  const address = yield* Effect.acquireRelease(listen(server, config.host, config.port), () =>
    Effect.gen(function* () {
      accepting = false
      server.close()
      log.info("server.stopping", { connections: bridges.size })
      supervisor.send({ type: "SHUTDOWN" })
      const drained = Promise.all([...bridges.values()].map((bridge) => bridge.done))
      yield* Effect.promise(() => drained).pipe(Effect.timeout(config.shutdownGraceMs), Effect.ignore)
      for (const bridge of bridges.values()) bridge.destroy()
      log.info("server.stopped", { forced: bridges.size })
    }),
  )
  log.info("server.listening", { host: address.host, port: address.port })
  const running: RunningServer = {
    host: address.host,
    port: address.port,
    supervisor,
    connectionCount: () => bridges.size,
  }
  return running
})
