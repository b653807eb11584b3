/**
 * Standard base64 encoding (RFC 4648, with padding), for `octet-stream` bulk-publish entries.
 *
 * @packageDocumentation
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Encodes bytes as standard, padded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (<u32>bytes[i] << 16) | (<u32>bytes[i + 1] << 8) | <u32>bytes[i + 2];
    out += ALPHABET.charAt(v >> 18) + ALPHABET.charAt((v >> 12) & 63);
    out += ALPHABET.charAt((v >> 6) & 63) + ALPHABET.charAt(v & 63);
  }
  const rest = n - i;
  if (rest == 1) {
    const v = <u32>bytes[i] << 16;
    out += ALPHABET.charAt(v >> 18) + ALPHABET.charAt((v >> 12) & 63) + "==";
  } else if (rest == 2) {
    const v = (<u32>bytes[i] << 16) | (<u32>bytes[i + 1] << 8);
    out += ALPHABET.charAt(v >> 18) + ALPHABET.charAt((v >> 12) & 63);
    out += ALPHABET.charAt((v >> 6) & 63) + "=";
  }
  return out;
}
