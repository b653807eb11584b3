//! The `wasi_experimental_http` imports, wrapped into safe functions that return ABI codes.

// This is the only module with `unsafe` code. Every wrapper passes pointers derived from
// live Rust slices or locals, so the host only ever sees memory that is valid for the
// length it is told. `header_get` is not wrapped: responses read every header at once
// with `headers_get_all`. On targets other than `wasm32` the imports do not exist and
// every function returns `RUNTIME_ERROR`, so the crate builds and its pure parts are
// tested natively.

#![allow(unsafe_code)]

/// The ABI code the fallback returns on targets without the import (12, runtime error).
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) const RUNTIME_ERROR: u32 = 12;

/// A successful `req`: the response status and the handle that owns the response.
pub(crate) struct Sent {
    pub(crate) status: u16,
    pub(crate) handle: u32,
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Sent;

    // The Rust names carry a `wasi_experimental_http_` prefix so that they can never be
    // confused with libc symbols such as `close` at link time; `link_name` gives the
    // import its ABI name.
    #[link(wasm_import_module = "wasi_experimental_http")]
    unsafe extern "C" {
        #[link_name = "req"]
        fn wasi_experimental_http_req(
            url_ptr: *const u8,
            url_len: usize,
            method_ptr: *const u8,
            method_len: usize,
            headers_ptr: *const u8,
            headers_len: usize,
            body_ptr: *const u8,
            body_len: usize,
            status_out: *mut u16,
            handle_out: *mut u32,
        ) -> u32;

        #[link_name = "close"]
        fn wasi_experimental_http_close(handle: u32) -> u32;

        #[link_name = "headers_get_all"]
        fn wasi_experimental_http_headers_get_all(
            handle: u32,
            buf_ptr: *mut u8,
            buf_len: usize,
            written_out: *mut usize,
        ) -> u32;

        #[link_name = "body_read"]
        fn wasi_experimental_http_body_read(
            handle: u32,
            buf_ptr: *mut u8,
            buf_len: usize,
            written_out: *mut usize,
        ) -> u32;
    }

    /// Caps a host-reported length at the buffer length, so a misbehaving host can never
    /// make the caller index past its buffer.
    fn clamp(written: usize, len: usize) -> usize {
        written.min(len)
    }

    pub(crate) fn req(url: &str, method: &str, headers: &str, body: &[u8]) -> Result<Sent, u32> {
        let mut status: u16 = 0;
        let mut handle: u32 = 0;
        // SAFETY: every pointer/length pair comes from a live slice borrowed for the
        // duration of the call; `status` and `handle` are live locals of the exact types
        // the ABI writes (u16 and u32, little endian, which is wasm32's byte order).
        let code = unsafe {
            wasi_experimental_http_req(
                url.as_ptr(),
                url.len(),
                method.as_ptr(),
                method.len(),
                headers.as_ptr(),
                headers.len(),
                body.as_ptr(),
                body.len(),
                &mut status,
                &mut handle,
            )
        };
        if code == 0 {
            Ok(Sent { status, handle })
        } else {
            Err(code)
        }
    }

    pub(crate) fn close(handle: u32) -> Result<(), u32> {
        // SAFETY: passes only an integer; no memory is shared.
        let code = unsafe { wasi_experimental_http_close(handle) };
        if code == 0 { Ok(()) } else { Err(code) }
    }

    pub(crate) fn headers_get_all(handle: u32, buf: &mut [u8]) -> Result<usize, (u32, usize)> {
        let mut written: usize = 0;
        // SAFETY: `buf` is exclusively borrowed for the duration of the call, so the host
        // may write up to `buf.len()` bytes into it; `written` is a live local of the
        // u32-sized type the ABI writes on wasm32.
        let code = unsafe {
            wasi_experimental_http_headers_get_all(
                handle,
                buf.as_mut_ptr(),
                buf.len(),
                &mut written,
            )
        };
        if code == 0 {
            Ok(clamp(written, buf.len()))
        } else {
            Err((code, written))
        }
    }

    pub(crate) fn body_read(handle: u32, buf: &mut [u8]) -> Result<usize, u32> {
        let mut written: usize = 0;
        // SAFETY: as for `headers_get_all`: `buf` is an exclusive live slice, `written` a live local.
        let code = unsafe {
            wasi_experimental_http_body_read(handle, buf.as_mut_ptr(), buf.len(), &mut written)
        };
        if code == 0 {
            Ok(clamp(written, buf.len()))
        } else {
            Err(code)
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    // Native fallback: there is no host to call, every function reports a runtime error.

    use super::{RUNTIME_ERROR, Sent};

    pub(crate) fn req(
        _url: &str,
        _method: &str,
        _headers: &str,
        _body: &[u8],
    ) -> Result<Sent, u32> {
        Err(RUNTIME_ERROR)
    }

    pub(crate) fn close(_handle: u32) -> Result<(), u32> {
        Err(RUNTIME_ERROR)
    }

    pub(crate) fn headers_get_all(_handle: u32, _buf: &mut [u8]) -> Result<usize, (u32, usize)> {
        Err((RUNTIME_ERROR, 0))
    }

    pub(crate) fn body_read(_handle: u32, _buf: &mut [u8]) -> Result<usize, u32> {
        Err(RUNTIME_ERROR)
    }
}

pub(crate) use imp::{body_read, close, headers_get_all, req};
