//! A preview-1 `fd_write` that writes every buffer it is given. wasmtime-wasi's own writes
//! only the first non-empty buffer and reports the short count, which POSIX allows; guests
//! built before that mattered (as-wasi 0.4's `Console.log` passes the text and `"\n"` as
//! two buffers and ignores the count) would lose their newlines. This one hands each
//! buffer to wasmtime-wasi's implementation in turn, until all of it is written.

use wasmtime::{Caller, Extern, Linker};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p1::types::{Errno, Fd};
use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;
use wiggle::{GuestMemory, GuestPtr};

/// Bytes of one `ciovec` (`buf: u32`, `buf_len: u32`).
const CIOVEC_SIZE: u32 = 8;

/// Most bytes handed to wasmtime-wasi in one call: bounds the host-side copy of a buffer
/// whatever its size in the guest.
const CHUNK: usize = 64 << 10;

/// Shadows `wasi_snapshot_preview1::fd_write` in `linker` (which must already hold
/// wasmtime-wasi's preview 1) with the write-every-buffer version.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    f: impl Fn(&mut T) -> &mut WasiP1Ctx + Copy + Send + Sync + 'static,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap_async(
        "wasi_snapshot_preview1",
        "fd_write",
        move |mut caller: Caller<'_, T>, (fd, iovs, iovs_len, nwritten): (i32, i32, i32, i32)| {
            Box::new(async move {
                let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                    wasmtime::bail!("missing required memory export");
                };
                let (mem, state) = memory.data_and_store_mut(&mut caller);
                let result = write_all(mem, f(state), fd as u32, iovs as u32, iovs_len as u32)
                    .await
                    .and_then(|total| {
                        let mem = memory.data_mut(&mut caller);
                        let slot = range(mem, nwritten as u32, 4).ok_or(Errno::Fault)?;
                        slot.copy_from_slice(&total.to_le_bytes());
                        Ok(())
                    });
                match result {
                    Ok(()) => Ok(Errno::Success as i32),
                    Err(errno) => Ok(errno as i32),
                }
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Writes every iovec of the guest's array to `fd`, each one to its end, and returns the
/// total. An error after some bytes went out returns the count so far, as `writev` does.
async fn write_all(
    mem: &mut [u8],
    ctx: &mut WasiP1Ctx,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
) -> Result<u32, Errno> {
    let array_len = iovs_len.checked_mul(CIOVEC_SIZE).ok_or(Errno::Inval)?;
    let array = range(mem, iovs, array_len).ok_or(Errno::Fault)?;
    let buffers: Vec<(u32, u32)> = array
        .chunks_exact(CIOVEC_SIZE as usize)
        .map(|c| (le_u32(&c[..4]), le_u32(&c[4..])))
        .collect();
    // Check every buffer before writing any, so a bad pointer writes nothing.
    for &(ptr, len) in &buffers {
        range(mem, ptr, len).ok_or(Errno::Fault)?;
    }
    if buffers.iter().all(|&(_, len)| len == 0) {
        // Nothing to write, but the descriptor is still checked.
        return write_once(ctx, fd, &[]).await;
    }
    let mut total: u32 = 0;
    for (ptr, len) in buffers {
        let Some(buf) = range(mem, ptr, len) else {
            return Err(Errno::Fault);
        };
        let mut done = 0;
        while done < buf.len() {
            let end = buf.len().min(done + CHUNK);
            match write_once(ctx, fd, &buf[done..end]).await {
                // No progress: report what went out rather than spin.
                Ok(0) => return Ok(total),
                Ok(n) => {
                    done += n as usize;
                    total = total.checked_add(n).ok_or(Errno::Overflow)?;
                }
                Err(_) if total > 0 => return Ok(total),
                Err(errno) => return Err(errno),
            }
        }
    }
    Ok(total)
}

/// One call of wasmtime-wasi's `fd_write` with `bytes` as its only buffer, laid out in a
/// host-side scratch memory (`[ciovec][bytes]`) so the guest's memory is never written.
async fn write_once(ctx: &mut WasiP1Ctx, fd: u32, bytes: &[u8]) -> Result<u32, Errno> {
    let len = u32::try_from(bytes.len()).map_err(|_| Errno::Overflow)?;
    let mut scratch = Vec::with_capacity(CIOVEC_SIZE as usize + bytes.len());
    scratch.extend_from_slice(&CIOVEC_SIZE.to_le_bytes());
    scratch.extend_from_slice(&len.to_le_bytes());
    scratch.extend_from_slice(bytes);
    // wasmtime-wasi bounds each call's copies by a per-call budget that its own linker
    // wrappers set; this call copies exactly the scratch memory.
    ctx.set_hostcall_fuel(scratch.len());
    let mut memory = GuestMemory::Unshared(&mut scratch);
    let ciovs = GuestPtr::new((0, 1));
    match ctx.fd_write(&mut memory, Fd::from(fd), ciovs).await {
        Ok(n) => Ok(n),
        // A trap-worthy failure inside wasmtime-wasi is reported as an I/O error: the
        // guest asked for a write, and a guest never panics or kills the host.
        Err(e) => Err(e.downcast().unwrap_or(Errno::Io)),
    }
}

/// `len` bytes of `mem` at `ptr`, or `None` when any of them is out of bounds.
fn range(mem: &mut [u8], ptr: u32, len: u32) -> Option<&mut [u8]> {
    let start = ptr as usize;
    let end = start.checked_add(len as usize)?;
    mem.get_mut(start..end)
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}
