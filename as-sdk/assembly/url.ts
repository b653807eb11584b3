/**
 * URL building: percent-encoding of path segments and query parameters (RFC 3986).
 *
 * @packageDocumentation
 */

const HEX = "0123456789ABCDEF";

function isUnreserved(b: u8): bool {
  return (
    (b >= 0x30 && b <= 0x39) || // 0-9
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    b == 0x2d || // -
    b == 0x2e || // .
    b == 0x5f || // _
    b == 0x7e // ~
  );
}

/**
 * Percent-encodes `s` (as UTF-8) so it is ONE path segment or one query key/value:
 * everything but the RFC 3986 unreserved characters `A-Z a-z 0-9 - . _ ~` becomes
 * `%XX` (upper-case hex), including `/`, `?`, `#`, `%`, `&`, `=`, `+` and space.
 */
export function encodeComponent(s: string): string {
  const bytes = Uint8Array.wrap(String.UTF8.encode(s));
  let out = "";
  let plain = true;
  for (let i = 0; i < bytes.length; i++) {
    if (!isUnreserved(bytes[i])) {
      plain = false;
      break;
    }
  }
  if (plain) return s;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (isUnreserved(b)) {
      out += String.fromCharCode(b);
    } else {
      out += "%" + HEX.charAt(b >> 4) + HEX.charAt(b & 15);
    }
  }
  return out;
}

/**
 * Percent-encodes a path that may span several segments (a topic such as `orders/eu`,
 * an invoked method such as `api/v1/items`): each `/`-separated segment is encoded with
 * `encodeComponent`, the `/` separators are kept. A leading `/` is dropped.
 */
export function encodePath(path: string): string {
  let p = path;
  while (p.startsWith("/")) p = p.substring(1);
  const parts = p.split("/");
  for (let i = 0; i < parts.length; i++) parts[i] = encodeComponent(parts[i]);
  return parts.join("/");
}

/** One query parameter; repeated keys are repeated pairs. */
export class QueryParam {
  constructor(
    /** The key, not yet encoded. */
    public readonly key: string,
    /** The value, not yet encoded. */
    public readonly value: string,
  ) {}
}

/** Encodes query parameters as `k=v&k2=v2` (no leading `?`), in order. */
export function encodeQuery(params: QueryParam[]): string {
  let s = "";
  for (let i = 0; i < params.length; i++) {
    if (i > 0) s += "&";
    s += encodeComponent(params[i].key) + "=" + encodeComponent(params[i].value);
  }
  return s;
}

/**
 * Builds a URL from a base (`http://127.0.0.1:3500`), raw path pieces and query
 * parameters. `segment()` encodes one segment (a `/` inside becomes `%2F`), `path()`
 * encodes a multi-segment path, `raw()` appends literal, already-safe path text.
 */
export class UrlBuilder {
  private _path: string = "";
  private _query: QueryParam[] = new Array<QueryParam>();

  constructor(public readonly base: string) {}

  /** Appends literal path text such as `v1.0/state` (no encoding). */
  raw(path: string): UrlBuilder {
    this.appendPiece(path);
    return this;
  }

  /** Appends one percent-encoded path segment. */
  segment(value: string): UrlBuilder {
    this._path += "/" + encodeComponent(value);
    return this;
  }

  /** Appends a multi-segment path, each segment percent-encoded. */
  path(value: string): UrlBuilder {
    const enc = encodePath(value);
    this._path += "/" + enc;
    return this;
  }

  /** Adds a query parameter. */
  query(key: string, value: string): UrlBuilder {
    this._query.push(new QueryParam(key, value));
    return this;
  }

  /** Adds every entry of a map as `prefix + key = value` (e.g. `metadata.ttlInSeconds=5`). */
  queryMap(prefix: string, map: Map<string, string> | null): UrlBuilder {
    if (map == null) return this;
    const keys = map.keys();
    for (let i = 0; i < keys.length; i++) {
      this._query.push(new QueryParam(prefix + keys[i], map.get(keys[i])));
    }
    return this;
  }

  /** Adds already-built query parameters. */
  queryParams(params: QueryParam[] | null): UrlBuilder {
    if (params == null) return this;
    for (let i = 0; i < params.length; i++) this._query.push(params[i]);
    return this;
  }

  /** The finished URL. */
  build(): string {
    let base = this.base;
    while (base.endsWith("/")) base = base.substring(0, base.length - 1);
    let url = base + this._path;
    if (this._query.length > 0) url += "?" + encodeQuery(this._query);
    return url;
  }

  private appendPiece(path: string): void {
    let p = path;
    while (p.startsWith("/")) p = p.substring(1);
    this._path += "/" + p;
  }
}
