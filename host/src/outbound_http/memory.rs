//! Guest memory access for the import: bounds-checked reads and writes of pointer/length
//! pairs, and the sized writes of `header_get`/`headers_get_all`. Out of bounds is an
//! error code for the guest, never a trap.

use wasmtime::{AsContext, AsContextMut, Caller, Extern, Memory};

use super::HttpError;

pub(super) fn memory<T>(caller: &mut Caller<'_, T>) -> Result<Memory, HttpError> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or(HttpError::MemoryNotFound)
}

pub(super) fn range(
    ptr: u32,
    len: u32,
    mem_len: usize,
) -> Result<std::ops::Range<usize>, HttpError> {
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(HttpError::MemoryAccess)?;
    if end > mem_len {
        return Err(HttpError::MemoryAccess);
    }
    Ok(start..end)
}

pub(super) fn read_guest(
    mem: &Memory,
    store: impl AsContext,
    (ptr, len): (u32, u32),
) -> Result<Vec<u8>, HttpError> {
    let data = mem.data(&store);
    Ok(data[range(ptr, len, data.len())?].to_vec())
}

pub(super) fn check_writable(
    mem: &Memory,
    store: impl AsContext,
    ptr: u32,
    len: u32,
) -> Result<(), HttpError> {
    range(ptr, len, mem.data_size(&store)).map(|_| ())
}

pub(super) fn write_guest(
    mem: &Memory,
    mut store: impl AsContextMut,
    ptr: u32,
    bytes: &[u8],
) -> Result<(), HttpError> {
    let len = u32::try_from(bytes.len()).map_err(|_| HttpError::MemoryAccess)?;
    let data = mem.data_mut(&mut store);
    let r = range(ptr, len, data.len())?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

/// Writes `value` into the guest's buffer and its length to `written_ptr`; if it does not
/// fit, writes the needed length and returns [`HttpError::BufferTooSmall`].
pub(super) fn write_sized<T>(
    mem: &Memory,
    caller: &mut Caller<'_, T>,
    (buf_ptr, buf_len): (u32, u32),
    written_ptr: u32,
    value: &[u8],
) -> Result<(), HttpError> {
    let needed =
        u32::try_from(value.len()).map_err(|_| HttpError::Runtime("value too large".into()))?;
    if value.len() > buf_len as usize {
        write_guest(mem, &mut *caller, written_ptr, &needed.to_le_bytes())?;
        return Err(HttpError::BufferTooSmall {
            needed: value.len(),
        });
    }
    check_writable(mem, &*caller, buf_ptr, buf_len)?;
    write_guest(mem, &mut *caller, buf_ptr, value)?;
    write_guest(mem, &mut *caller, written_ptr, &needed.to_le_bytes())
}
