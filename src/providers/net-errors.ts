// Error codes that mean "the network, not the identity": classified as such by every cloud's error
// module before any secret is blamed (issue 13: honest messages).

/** Socket and DNS failures (Node's errno codes). */
export const SOCKET_ERROR_CODES = [
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
] as const;

/** TLS verification failures (an untrusted proxy or CA, a wrong host name). */
export const TLS_ERROR_CODES = [
  "CERT_HAS_EXPIRED",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "ERR_TLS_CERT_ALTNAME_INVALID",
] as const;
