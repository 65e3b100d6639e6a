// YAML to plain data, for every file we read (our config, the kubelet's CredentialProviderConfig,
// the pull-secrets config). Not `yaml.parse`: that prints its warnings (an unknown tag) as a
// multi-line process warning on stderr, and an alias inside its own anchor (`a: &a [*a, *a, …]`, a
// few KB) keeps its alias counting busy for minutes. Here warnings are errors, and so is such a
// cycle; an alias explosion without a cycle stops at the library's maxAliasCount. A leaf module,
// imported lazily by callers on the hit path (src/config.ts), so "yaml" loads only with a file.

import { type Document, isAlias, type ParseOptions, parseDocument, visit } from "yaml";

/** The alias that sits inside its own anchor, if any (toJS would spin on it). */
export const aliasCycle = (doc: Document.Parsed): string | undefined => {
  let cycle: string | undefined;
  visit(doc, {
    Alias(_key, node, path) {
      const target = isAlias(node) ? node.resolve(doc) : undefined;
      if (target && path.includes(target)) {
        cycle = node.source;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return cycle;
};

/** Parses `text` (YAML or JSON) to plain data; throws the first error, warning or alias cycle. */
export const parseYaml = (text: string, options: ParseOptions & { version?: "1.1" | "1.2" } = {}): unknown => {
  const doc = parseDocument(text, { strict: true, uniqueKeys: true, ...options });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw problem;
  const cycle = aliasCycle(doc);
  if (cycle !== undefined) throw new Error(`the alias *${cycle} is inside its own anchor &${cycle}`);
  return doc.toJS();
};
