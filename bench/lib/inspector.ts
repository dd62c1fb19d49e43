/**
 * A minimal client of the V8 inspector of a process started with `--inspect=127.0.0.1:0`: heap
 * usage, and a forced full GC. Used only by the memory scenario, only after its plain RSS readings,
 * to tell live memory from garbage V8 has not yet collected.
 */

export interface InspectorSession {
  /** Used and total JS heap, in KiB. */
  heapUsage(): Promise<{ readonly usedKiB: number; readonly totalKiB: number }>
  collectGarbage(): Promise<void>
  close(): void
}

interface Reply {
  readonly id?: number
  readonly result?: { readonly usedSize?: number; readonly totalSize?: number }
}

/** The inspector's WebSocket URL from a stderr line "Debugger listening on ws://…". */
export const inspectorUrl = (line: string): string | undefined =>
  /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1]

export const connectInspector = async (url: string): Promise<InspectorSession> => {
  const socket = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true })
    socket.addEventListener("error", () => reject(new Error(`cannot reach the inspector at ${url}`)), {
      once: true,
    })
  })
  const pending = new Map<number, (reply: Reply) => void>()
  let nextId = 0
  socket.addEventListener("message", (event) => {
    const reply = JSON.parse(String(event.data)) as Reply
    if (reply.id !== undefined) pending.get(reply.id)?.(reply)
  })
  const call = (method: string): Promise<Reply> =>
    new Promise((resolve) => {
      const id = ++nextId
      pending.set(id, resolve)
      socket.send(JSON.stringify({ id, method, params: {} }))
    })
  return {
    heapUsage: async () => {
      const { result } = await call("Runtime.getHeapUsage")
      return {
        usedKiB: Math.round((result?.usedSize ?? 0) / 1024),
        totalKiB: Math.round((result?.totalSize ?? 0) / 1024),
      }
    },
    collectGarbage: async () => {
      await call("HeapProfiler.collectGarbage")
    },
    close: () => socket.close(),
  }
}
