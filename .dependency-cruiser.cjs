// Import rules for src/ (npm run check:deps, part of npm run lint). See docs/architecture.md.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "No import circle among src/ files (static or lazy import()).",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "adapters-load-providers-lazily",
      severity: "error",
      comment:
        "Adapters, the core and the cache never import a provider statically: SDK code is evaluated only on a cache miss (providers are loaded by import() in the provider loader).",
      from: { path: "^src/(adapters|cache|store|identity|keyring)/|^src/(cli|credentials|core|resolver|settings|config|help|wire)\\.ts$" },
      to: { path: "^src/providers/(?!types\\.ts$)", dependencyTypes: ["local", "import", "import-equals", "require", "export"], dependencyTypesNot: ["dynamic-import"] },
    },
    {
      name: "no-sdk-outside-providers",
      severity: "error",
      comment: "Cloud SDKs are imported only under src/providers/.",
      from: { path: "^src/", pathNot: "^src/providers/" },
      to: { path: "node_modules/(@aws-sdk|@azure|google-auth-library|@smithy)/", dependencyTypesNot: ["dynamic-import", "type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    parser: "swc",
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".json"] },
  },
};
