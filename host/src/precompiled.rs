//! Precompiled guests (`wasi-dapr compile`): the file format of a `.cwasm` and the checks
//! made before its machine code is trusted.
//!
//! A `.cwasm` is a 56-byte header followed by wasmtime's own precompiled artifact
//! ([`wasmtime::Engine::precompile_module`] / `precompile_component`):
//!
//! | bytes  | content                                                        |
//! |--------|----------------------------------------------------------------|
//! | 0..16  | [`MAGIC`] (`wasi-dapr cwasm` and the format version)           |
//! | 16     | kind: 0 core module, 1 component                               |
//! | 17     | facts: bit 0 set when instantiating runs guest code (a wasm    |
//! |        | `start` function, in a component's core modules or its own),   |
//! |        | bit 1 when it was compiled for an engine with concurrency      |
//! | 18..24 | zero                                                           |
//! | 24..56 | SHA-256 of the wasmtime artifact that follows                  |
//!
//! The header keeps what `run` and `serve` need to know about a guest and can no longer
//! read from its bytes (a `start` function decides whether instances may be prepared
//! ahead; concurrency, the component model's async ABI, decides which engine loads it),
//! and the checksum refuses a truncated or damaged file before wasmtime maps it. Wasmtime
//! then refuses an artifact of another wasmtime version or engine configuration.
//!
//! Precompiled code is not validated when loaded: a `.cwasm` is trusted like a native
//! binary. Only load artifacts you built yourself with `wasi-dapr compile`.

use sha2::{Digest, Sha256};

/// The first bytes of every `.cwasm` written by `wasi-dapr compile`; the last byte is the
/// format version.
pub const MAGIC: &[u8; 16] = b"wasi-dapr cwasm\x03";

/// The header's length; wasmtime's artifact starts here.
pub const HEADER_LEN: usize = 56;

const FACT_HAS_START: u8 = 1;
const FACT_CONCURRENCY: u8 = 2;

/// What a `.cwasm` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A core wasm module.
    Module,
    /// A component.
    Component,
}

/// A `.cwasm`'s header, read and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Module or component.
    pub kind: Kind,
    /// Whether instantiating runs guest code: a module's wasm `start` function; for a
    /// component, one in any of its core modules, or its own start function (format 3;
    /// format 2 did not record it for components).
    pub has_start: bool,
    /// Whether it was compiled by an engine with concurrency support (see
    /// [`crate::runtime::RuntimeOptions::concurrency`]); only such an engine loads it.
    pub concurrency: bool,
}

/// Why a file that starts like a `.cwasm` cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// The file is shorter than the header, or the header's reserved bytes are not zero.
    #[error("the header is truncated or damaged")]
    Header,
    /// The header is of a newer or older `.cwasm` format.
    #[error("it is a wasi-dapr cwasm of format {0}, this wasi-dapr reads format {current}", current = MAGIC[15])]
    Version(u8),
    /// The header names an unknown kind.
    #[error("unknown kind {0} in the header")]
    Kind(u8),
    /// The artifact does not match its checksum.
    #[error("the file is truncated or damaged (checksum mismatch)")]
    Checksum,
}

/// Whether `bytes` start like a `.cwasm` written by `wasi-dapr compile` (of any format
/// version).
pub fn is_precompiled(bytes: &[u8]) -> bool {
    // Eight bytes at least, so a short file of text is not taken for a damaged header.
    let n = bytes.len().min(MAGIC.len() - 1);
    n >= 8 && bytes[..n] == MAGIC[..n]
}

/// Whether the file at `path` starts like a `.cwasm` (only its first bytes are read; a
/// file that cannot be read is not, and its loading reports why).
pub fn file_is_precompiled(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; MAGIC.len()];
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut n = 0;
    let mut file = file.take(head.len() as u64);
    while let Ok(read) = file.read(&mut head[n..]) {
        if read == 0 {
            break;
        }
        n += read;
    }
    is_precompiled(&head[..n])
}

/// Wraps wasmtime's precompiled `artifact` in a `.cwasm`.
pub fn encode(header: Header, artifact: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + artifact.len());
    out.extend_from_slice(MAGIC);
    out.push(match header.kind {
        Kind::Module => 0,
        Kind::Component => 1,
    });
    let mut facts = 0;
    if header.has_start {
        facts |= FACT_HAS_START;
    }
    if header.concurrency {
        facts |= FACT_CONCURRENCY;
    }
    out.push(facts);
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&Sha256::digest(artifact));
    out.extend_from_slice(artifact);
    out
}

/// The kind named in a `.cwasm`'s header, without checking the rest.
pub fn decode_kind(bytes: &[u8]) -> Option<Kind> {
    match bytes.get(16) {
        Some(0) => Some(Kind::Module),
        Some(1) => Some(Kind::Component),
        _ => None,
    }
}

/// Whether a `.cwasm`'s header says it was compiled with concurrency support, without
/// checking the rest.
pub fn decode_concurrency(bytes: &[u8]) -> bool {
    bytes
        .get(17)
        .is_some_and(|facts| facts & FACT_CONCURRENCY != 0)
}

/// Reads and checks a `.cwasm`: its header and wasmtime's artifact, whose checksum
/// matched. Call only when [`is_precompiled`] is true.
pub fn decode(bytes: &[u8]) -> Result<(Header, &[u8]), FormatError> {
    if bytes.len() < HEADER_LEN || bytes[..MAGIC.len() - 1] != MAGIC[..MAGIC.len() - 1] {
        return Err(FormatError::Header);
    }
    if bytes[15] != MAGIC[15] {
        return Err(FormatError::Version(bytes[15]));
    }
    let kind = match bytes[16] {
        0 => Kind::Module,
        1 => Kind::Component,
        other => return Err(FormatError::Kind(other)),
    };
    if bytes[17] & !(FACT_HAS_START | FACT_CONCURRENCY) != 0
        || bytes[18..24].iter().any(|b| *b != 0)
    {
        return Err(FormatError::Header);
    }
    let artifact = &bytes[HEADER_LEN..];
    if Sha256::digest(artifact).as_slice() != &bytes[24..HEADER_LEN] {
        return Err(FormatError::Checksum);
    }
    let header = Header {
        kind,
        has_start: bytes[17] & FACT_HAS_START != 0,
        concurrency: bytes[17] & FACT_CONCURRENCY != 0,
    };
    Ok((header, artifact))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips() {
        for header in [
            Header {
                kind: Kind::Module,
                has_start: true,
                concurrency: false,
            },
            Header {
                kind: Kind::Component,
                has_start: false,
                concurrency: false,
            },
            Header {
                kind: Kind::Component,
                has_start: false,
                concurrency: true,
            },
        ] {
            let file = encode(header, b"artifact");
            assert!(is_precompiled(&file));
            assert_eq!(decode(&file), Ok((header, &b"artifact"[..])));
        }
    }

    #[test]
    fn files_are_told_apart_by_their_first_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            path
        };
        let header = Header {
            kind: Kind::Module,
            has_start: false,
            concurrency: false,
        };
        assert!(file_is_precompiled(&write(
            "a.cwasm",
            &encode(header, b"x")
        )));
        assert!(!file_is_precompiled(&write("a.wasm", b"\0asm\x01\0\0\0")));
        assert!(!file_is_precompiled(&write("short", b"wasi")));
        assert!(!file_is_precompiled(&write("empty", b"")));
        assert!(!file_is_precompiled(&dir.path().join("missing")));
    }

    #[test]
    fn damaged_files_are_refused() {
        let header = Header {
            kind: Kind::Module,
            has_start: false,
            concurrency: false,
        };
        let file = encode(header, b"artifact bytes");
        assert_eq!(decode(&file[..20]), Err(FormatError::Header));
        assert_eq!(decode(&file[..file.len() - 1]), Err(FormatError::Checksum));
        let mut flipped = file.clone();
        *flipped.last_mut().expect("non-empty") ^= 1;
        assert_eq!(decode(&flipped), Err(FormatError::Checksum));
        let mut version = file.clone();
        version[15] = 9;
        assert_eq!(decode(&version), Err(FormatError::Version(9)));
        let mut kind = file.clone();
        kind[16] = 7;
        assert_eq!(decode(&kind), Err(FormatError::Kind(7)));
        let mut reserved = file.clone();
        reserved[20] = 1;
        assert_eq!(decode(&reserved), Err(FormatError::Header));
        let mut facts = file;
        facts[17] = 4;
        assert_eq!(decode(&facts), Err(FormatError::Header));
    }

    #[test]
    fn wasm_and_text_are_not_precompiled() {
        assert!(!is_precompiled(b"\0asm\x01\0\0\0"));
        assert!(!is_precompiled(b"(module)"));
        assert!(!is_precompiled(b""));
        assert!(!is_precompiled(b"wasi"));
        assert!(is_precompiled(b"wasi-dapr cw"));
    }
}
