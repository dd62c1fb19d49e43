/**
 * Every category of `npm run attack`, in table order. One file per category; add yours here.
 */
import type { AttackCategory } from "../categories.ts"
import { faultsCategory } from "./faults.ts"
import { fuzzCategory } from "./fuzz.ts"
import { maliciousServerCategory } from "./malicious-server.ts"
import { mitmCategory } from "./mitm.ts"
import { resourcesCategory } from "./resources.ts"

export const categories: ReadonlyArray<AttackCategory> = [
  fuzzCategory,
  resourcesCategory,
  faultsCategory,
  mitmCategory,
  maliciousServerCategory,
]
