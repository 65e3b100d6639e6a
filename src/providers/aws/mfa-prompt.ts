// The terminal prompt for an MFA code (mfa.ts). The code is asked for on the controlling terminal
// (/dev/tty: stdin and stdout carry the helper protocol), without echo (the terminal in raw mode,
// restored on every path, as getpass does). The line read is never logged or kept.

import { fs } from "../../builtins.ts";

/** Reads one line from the terminal after writing `prompt` to it; throws NoTerminal without one. */
export type TerminalPrompt = (prompt: string) => Promise<string>;

export class NoTerminalError extends Error {
  override name = "NoTerminalError";
}

/** Ctrl-C, Ctrl-D or a signal at the prompt: the fetch ends with this one line. */
export class PromptCancelled extends Error {
  override name = "PromptCancelled";
}

/** The longest line read at the prompt (a code is 6 digits; anything longer is refused anyway). */
const MAX_LINE = 256;

const openTty = (flags: "r" | "w"): number => {
  try {
    return fs.openSync("/dev/tty", flags);
  } catch (e) {
    throw new NoTerminalError((e as NodeJS.ErrnoException).code ?? "no terminal");
  }
};

/**
 * The controlling terminal, as getpass uses it: the prompt written to /dev/tty, the line read
 * from it in raw mode without echo (Backspace and Ctrl-U edit; Enter ends; Ctrl-C and Ctrl-D
 * cancel). The terminal's mode is restored however it ends, a signal included.
 */
export const ttyPrompt: TerminalPrompt = async (prompt) => {
  const fd = openTty("r");
  let out: number;
  try {
    out = openTty("w");
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  const tty = await import("node:tty");
  if (!tty.isatty(fd)) {
    fs.closeSync(fd);
    fs.closeSync(out);
    throw new NoTerminalError("/dev/tty is not a terminal");
  }
  // The stream owns fd from here (destroy closes it); `out` stays a plain blocking descriptor.
  const input = new tty.ReadStream(fd);
  let raw = false;
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  let onSignal: (sig: NodeJS.Signals) => void = () => {};
  try {
    input.setRawMode(true);
    raw = true;
    // Echo is off before the prompt shows, so nothing typed after it appears on the screen.
    fs.writeSync(out, prompt);
    return await new Promise<string>((resolve, reject) => {
      let line = "";
      onSignal = (sig) => reject(new PromptCancelled(`the MFA prompt was interrupted (${sig})`));
      for (const sig of signals) process.on(sig, onSignal);
      input.on("error", (e) => reject(new NoTerminalError(e.message)));
      input.on("end", () => resolve(line));
      input.on("data", (chunk: Buffer | string) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return resolve(line);
          if (ch === "\u0003") return reject(new PromptCancelled("the MFA prompt was interrupted (Ctrl-C)"));
          if (ch === "\u0004") {
            if (line === "") return reject(new PromptCancelled("the MFA prompt was closed (Ctrl-D)"));
            return resolve(line);
          }
          if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
          else if (ch === "\u0015") line = "";
          else if (ch >= " " && line.length < MAX_LINE) line += ch;
        }
      });
    });
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    if (raw) {
      try {
        input.setRawMode(false);
      } catch {}
    }
    input.destroy();
    try {
      // The Enter was not echoed: end the prompt's line.
      fs.writeSync(out, "\n");
    } catch {}
    fs.closeSync(out);
  }
};
