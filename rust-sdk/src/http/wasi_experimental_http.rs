//! The transport over the `wasi_experimental_http` import (wasm32-wasip1, and the
//! native fallback where every call is a runtime error).

use super::{Error, Headers, Request, error};
use crate::raw;

/// The first buffer size tried for the header block.
const HEADER_BLOCK_START: usize = 4 * 1024;
/// The largest header block the SDK buffers.
const HEADER_BLOCK_MAX: usize = 1024 * 1024;

/// Sends `request` through the import: the status, every header and the streamed body.
pub(super) fn send(request: &Request) -> Result<(u16, Headers, Body), Error> {
    let block = request.headers.to_block()?;
    let sent =
        raw::req(&request.url, &request.method, &block, &request.body).map_err(error::from_abi)?;
    // Own the handle before anything else can fail, so it is closed on every path.
    let handle = Handle(sent.handle);
    let headers = read_header_block(&handle)?;
    Ok((
        sent.status,
        headers,
        Body {
            handle,
            done: false,
        },
    ))
}

/// Reads every response header, growing the buffer while the host says it is too small.
fn read_header_block(handle: &Handle) -> Result<Headers, Error> {
    let mut size = HEADER_BLOCK_START;
    loop {
        let mut buf = vec![0u8; size];
        match raw::headers_get_all(handle.0, &mut buf) {
            Ok(written) => {
                buf.truncate(written);
                let block = String::from_utf8(buf).map_err(|_| Error::HeaderBlockNotUtf8)?;
                return Headers::parse_block(&block);
            }
            Err((4, hint)) if size < HEADER_BLOCK_MAX => {
                // Use the host's size hint when it gives one, else double.
                size = if hint > size { hint } else { size * 2 }.min(HEADER_BLOCK_MAX);
            }
            Err((4, _)) => return Err(Error::HeaderBlockTooLarge(HEADER_BLOCK_MAX)),
            Err((code, _)) => return Err(error::from_abi(code)),
        }
    }
}

/// A response handle; closed when dropped.
struct Handle(u32);

impl Drop for Handle {
    fn drop(&mut self) {
        // Nothing useful can be done about a failed close here, and Drop must not panic.
        let _ = raw::close(self.0);
    }
}

/// A response body streamed from the host; `done` once `body_read` reported the end.
pub(super) struct Body {
    handle: Handle,
    done: bool,
}

impl Body {
    /// Reads the next chunk into `buf` (not empty); `Ok(0)` at the end.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.done {
            return Ok(0);
        }
        let n = raw::body_read(self.handle.0, buf).map_err(error::from_abi)?;
        if n == 0 {
            self.done = true;
        }
        Ok(n)
    }
}
