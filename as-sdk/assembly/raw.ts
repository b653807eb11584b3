/**
 * The raw `wasi_experimental_http` imports, exactly as the host provides them.
 *
 * Every function returns an error code (0 ok, see `ErrorCode` in `http.ts`); results
 * are written through the `*_out_ptr` arguments. All lengths are byte lengths and all
 * strings are UTF-8. Nothing in this file allocates or checks anything: use `http.ts`.
 *
 * @packageDocumentation
 */

/**
 * Sends a request: method, URL, a `name:value\n` header block and a body. Writes the
 * status and a response handle; close the handle with `close`.
 */
// @ts-ignore: decorator
@external("wasi_experimental_http", "req")
export declare function req(
  url_ptr: usize,
  url_len: usize,
  method_ptr: usize,
  method_len: usize,
  headers_ptr: usize,
  headers_len: usize,
  body_ptr: usize,
  body_len: usize,
  status_out_ptr: usize, // u16, little endian
  handle_out_ptr: usize, // u32, little endian
): u32;

/** Releases a response handle. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "close")
export declare function close(handle: u32): u32;

/** Copies the value of one response header into `buf` (`BufferTooSmall` if it does not fit). */
// @ts-ignore: decorator
@external("wasi_experimental_http", "header_get")
export declare function header_get(
  handle: u32,
  name_ptr: usize,
  name_len: usize,
  buf_ptr: usize,
  buf_len: usize,
  written_out_ptr: usize, // u32
): u32;

/** Copies every response header, as a `name:value\n` block, into `buf`. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "headers_get_all")
export declare function headers_get_all(
  handle: u32,
  buf_ptr: usize,
  buf_len: usize,
  written_out_ptr: usize, // u32
): u32;

/** Reads the next chunk of the response body into `buf`; 0 bytes written means the end. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "body_read")
export declare function body_read(
  handle: u32,
  buf_ptr: usize,
  buf_len: usize,
  written_out_ptr: usize, // u32; 0 means the body is finished
): u32;
