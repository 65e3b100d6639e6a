// The process environment as the edge hands it down: read once in src/cli.ts (or given to the
// library), frozen, and never read from process.env below it. A leaf.

export type Env = Readonly<Record<string, string | undefined>>;
