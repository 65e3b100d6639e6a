// Placeholder until the acr provider lands.
import { NoIdentityError } from "../errors.ts";
import type { Route } from "../resolver.ts";
import type { FetchContext, Token } from "./types.ts";

export const fetchToken = async (route: Route, _ctx: FetchContext): Promise<Token> => {
  throw new NoIdentityError(`the acr provider is not available in this build (${route.host})`);
};
