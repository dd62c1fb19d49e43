import { defineConfig } from "vitest/config"
import { SYSTEM_TOOLS } from "./test/support/system-tools.ts"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    reporters: ["default"],
    // Installs missing system programs (root with apt-get) before any test runs; see the file.
    globalSetup: ["test/setup/system-tools.ts"],
    // A test that needs a system program carries its tag (needs() in test/support/system-tools.ts).
    tags: SYSTEM_TOOLS.map((tool) => ({
      name: tool.name,
      description: `needs ${tool.name} (Debian package ${tool.debianPackage})`,
    })),
  },
})
