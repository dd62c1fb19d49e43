import { defineConfig } from "vitest/config"
import { SYSTEM_TOOLS } from "./testkit/system-tools.ts"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    reporters: ["default"],
    // Installs missing system programs (root with apt-get), then builds dist/ so the CLI processes
    // the tests start load fast (bin/onechat.mjs runs the sources when the build is stale).
    globalSetup: ["test/setup/system-tools.ts", "test/setup/build-cli.ts"],
    // A test that needs a system program carries its tag (needs() in testkit/system-tools.ts).
    tags: SYSTEM_TOOLS.map((tool) => ({
      name: tool.name,
      description: `needs ${tool.name} (Debian package ${tool.debianPackage})`,
    })),
  },
})
