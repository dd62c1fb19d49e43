/**
 * Opcodes of the messages carried inside records. 0–8 keep the numbers and meanings of the
 * original system; 9–11 are new application opcodes; 16–21 are handshake messages.
 * Pure data. docs/protocol.md §6.
 */

export const Opcode = {
  Quit: 0,
  List: 1,
  Rtt: 2,
  Accept: 3,
  Refuse: 4,
  Message: 5,
  CcSessionEstablishment: 6,
  UserNotFound: 7,
  Notify: 8,
  Error: 9,
  Ping: 10,
  Pong: 11,
  ServerCertificate: 16,
  ServerVerify: 17,
  ServerFinished: 18,
  ClientIdentity: 19,
  ClientVerify: 20,
  ClientFinished: 21,
} as const
export type Opcode = (typeof Opcode)[keyof typeof Opcode]

export const opcodeName = (opcode: number): string => {
  for (const [name, value] of Object.entries(Opcode)) if (value === opcode) return name
  return `Unassigned(${opcode})`
}

export const isApplicationOpcode = (opcode: number): boolean => opcode >= 0 && opcode <= 11
export const isHandshakeOpcode = (opcode: number): boolean => opcode >= 16 && opcode <= 21

/** USER_NOT_FOUND reasons (§6.1). */
export const NotFoundReason = { NotOnline: 1, Busy: 2, Yourself: 3 } as const
export type NotFoundReason = (typeof NotFoundReason)[keyof typeof NotFoundReason]

/** NOTIFY reasons, server → client (§6.1). */
export const NotifyReason = { Left: 1, Disconnected: 2, Cancelled: 3, TimedOut: 4, Failed: 5 } as const
export type NotifyReason = (typeof NotifyReason)[keyof typeof NotifyReason]
