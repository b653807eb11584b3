/**
 * Guarded JSON helpers over json-as: validate first so bad input is a `null`, never a trap.
 *
 * @packageDocumentation
 */

import { JSON } from "json-as";
import { validateJSON } from "json-as/assembly/util/validateJson";

export { JSON };

function firstNonSpace(text: string): i32 {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return c;
  }
  return -1;
}

/** `true` if `text` is one complete, valid JSON value. */
export function isValidJson(text: string): bool {
  if (firstNonSpace(text) < 0) return false;
  return validateJSON(text);
}

/** Encodes a string as a JSON string literal (quotes and escapes). */
export function jsonString(s: string): string {
  return JSON.stringify<string>(s);
}

/**
 * Parses a JSON object into its members, each kept as raw JSON text (so a stored state
 * value comes back byte for byte). `null` if `text` is not a valid JSON object.
 */
export function parseObject(text: string): Map<string, JSON.Raw> | null {
  if (firstNonSpace(text) != 0x7b /* { */) return null;
  if (!validateJSON(text)) return null;
  return JSON.parse<Map<string, JSON.Raw>>(text);
}

/** Parses a JSON array into its elements as raw JSON text; `null` if not an array. */
export function parseArray(text: string): JSON.Raw[] | null {
  if (firstNonSpace(text) != 0x5b /* [ */) return null;
  if (!validateJSON(text)) return null;
  return JSON.parse<JSON.Raw[]>(text);
}

/** Member `key` parsed as a JSON array, or `null` if it is absent or not an array. */
export function memberArray(obj: Map<string, JSON.Raw>, key: string): JSON.Raw[] | null {
  const raw = member(obj, key);
  return raw != null ? parseArray(raw) : null;
}

/** The raw JSON text of a member (trimmed), or `null` if the member is absent. */
export function member(obj: Map<string, JSON.Raw>, key: string): string | null {
  if (!obj.has(key)) return null;
  return obj.get(key).toString().trim();
}

/** Decodes raw JSON text that must be a string literal; `null` if it is anything else. */
export function decodeString(rawText: string | null): string | null {
  if (rawText == null) return null;
  const t = rawText.trim();
  if (t.length < 2 || t.charCodeAt(0) != 0x22 /* " */) return null;
  return JSON.parse<string>(t);
}

/** Member `key` as a string; `null` if absent or not a JSON string. */
export function memberString(obj: Map<string, JSON.Raw>, key: string): string | null {
  return decodeString(member(obj, key));
}

/**
 * Member `key` as a map of strings (e.g. `metadata`). Non-string values are kept as
 * their JSON text. Empty if absent or not an object.
 */
export function memberStringMap(obj: Map<string, JSON.Raw>, key: string): Map<string, string> {
  const raw = member(obj, key);
  if (raw == null) return new Map<string, string>();
  return stringMapOf(raw);
}

/** A JSON object of strings as a map; non-string values as JSON text. Empty if not an object. */
export function stringMapOf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const inner = parseObject(text);
  if (inner == null) return out;
  const keys = inner.keys();
  for (let i = 0; i < keys.length; i++) {
    const v = inner.get(keys[i]).toString().trim();
    const s = decodeString(v);
    out.set(keys[i], s != null ? s : v);
  }
  return out;
}

/** Encodes a map of strings as a JSON object, in insertion order. */
export function stringMapToJson(map: Map<string, string>): string {
  return JSON.stringify<Map<string, string>>(map);
}

/**
 * A canonical spelling of JSON text: members sorted by key, no whitespace, strings
 * re-escaped, numbers as f64. Structure comes from json-as. `null` if `text` is invalid.
 */
export function canonicalJson(text: string): string | null {
  if (!isValidJson(text)) return null;
  return canonical(text.trim());
}

function canonical(t: string): string {
  const c = firstNonSpace(t);
  if (c == 0x7b /* { */) {
    const obj = JSON.parse<Map<string, JSON.Raw>>(t);
    const keys = obj.keys().sort();
    let s = "{";
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) s += ",";
      s += jsonString(keys[i]) + ":" + canonical(obj.get(keys[i]).toString().trim());
    }
    return s + "}";
  }
  if (c == 0x5b /* [ */) {
    const arr = JSON.parse<JSON.Raw[]>(t);
    let s = "[";
    for (let i = 0; i < arr.length; i++) {
      if (i > 0) s += ",";
      s += canonical(arr[i].toString().trim());
    }
    return s + "]";
  }
  if (c == 0x22 /* " */) return jsonString(JSON.parse<string>(t));
  if (t == "true" || t == "false" || t == "null") return t;
  return F64.parseFloat(t).toString();
}

/**
 * `true` if two JSON texts denote the same value (member order, whitespace and number
 * spelling do not matter). `false` if either is invalid.
 */
export function jsonEquals(a: string, b: string): bool {
  if (a == b) return isValidJson(a);
  const ca = canonicalJson(a);
  const cb = canonicalJson(b);
  return ca != null && cb != null && ca == cb;
}

/**
 * Writes one JSON object member by member, in call order. Keys and string values are
 * escaped by json-as; `raw()` embeds JSON text that the caller has validated.
 */
export class JsonObjectWriter {
  private body: string = "";
  private count: i32 = 0;

  private key(k: string): void {
    if (this.count > 0) this.body += ",";
    this.count++;
    this.body += jsonString(k) + ":";
  }

  /** `"k":"v"`. */
  string(k: string, v: string): JsonObjectWriter {
    this.key(k);
    this.body += jsonString(v);
    return this;
  }

  /** `"k":"v"`, or nothing when `v` is `null`. */
  optString(k: string, v: string | null): JsonObjectWriter {
    if (v != null) this.string(k, v);
    return this;
  }

  /** `"k":<json>` with `json` embedded as is. */
  raw(k: string, json: string): JsonObjectWriter {
    this.key(k);
    this.body += json;
    return this;
  }

  /** `"k":123`. */
  int(k: string, v: i64): JsonObjectWriter {
    this.key(k);
    this.body += v.toString();
    return this;
  }

  /** `"k":true|false`. */
  bool(k: string, v: bool): JsonObjectWriter {
    this.key(k);
    this.body += v ? "true" : "false";
    return this;
  }

  /** `"k":["a","b"]`. */
  stringArray(k: string, v: string[]): JsonObjectWriter {
    this.key(k);
    let s = "[";
    for (let i = 0; i < v.length; i++) {
      if (i > 0) s += ",";
      s += jsonString(v[i]);
    }
    this.body += s + "]";
    return this;
  }

  /** `"k":{"a":"b"}`, or nothing when `v` is `null`. */
  optStringMap(k: string, v: Map<string, string> | null): JsonObjectWriter {
    if (v != null) {
      this.key(k);
      this.body += stringMapToJson(v);
    }
    return this;
  }

  /** The finished object text. */
  build(): string {
    return "{" + this.body + "}";
  }
}

/** Joins JSON texts into a JSON array. */
export function jsonArray(items: string[]): string {
  return "[" + items.join(",") + "]";
}
