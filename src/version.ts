// Kept equal to package.json "version" (a test checks it), so `version` needs no file read.
export const VERSION = "0.1.0";
