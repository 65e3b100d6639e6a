// The run-time provider table: each cloud's module (and with it its SDK) is imported on first use,
// i.e. on a cache miss only. Everything else in src/ depends on types.ts, never on a provider.

import type { ProviderLoader } from "./types.ts";

/** The real providers, each loaded on first use. */
export const loadProvider: ProviderLoader = async (name) => {
  switch (name) {
    case "ecr":
    case "ecr-public":
      return import("./aws/ecr.ts");
    case "google":
      return import("./google/google.ts");
    case "acr":
      return import("./azure/acr.ts");
  }
};
