//! Files under a root folder reached without following any link: each component of a
//! name is opened relative to its parent's descriptor with `O_NOFOLLOW`, so a folder
//! swapped for a link between a check and the access cannot send it outside the root.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use rustix::fs::{AtFlags, CWD, Mode, OFlags, mkdirat, openat, unlinkat};

/// Flags for a folder on the way: a real folder, never a link.
fn dir_flags() -> OFlags {
    OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY
}

/// The folder that holds `rel`'s last component, opened component by component from
/// `root` (creating missing folders when `create`), and that last component.
fn parent<'a>(root: &Path, rel: &'a Path, create: bool) -> io::Result<(OwnedFd, &'a OsStr)> {
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
        }
    }
    let last = parts
        .pop()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    // The root is the canonical rootPath the operator configured.
    let mut dir = openat(
        CWD,
        root,
        OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY,
        Mode::empty(),
    )?;
    for part in parts {
        dir = match openat(&dir, part, dir_flags(), Mode::empty()) {
            Ok(next) => next,
            Err(rustix::io::Errno::NOENT) if create => {
                match mkdirat(&dir, part, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                openat(&dir, part, dir_flags(), Mode::empty())?
            }
            Err(e) => return Err(e.into()),
        };
    }
    Ok((dir, last))
}

/// Opens `rel` under `root` for reading.
pub(crate) fn open_read(root: &Path, rel: &Path) -> io::Result<std::fs::File> {
    let (dir, last) = parent(root, rel, false)?;
    let fd = openat(
        &dir,
        last,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(std::fs::File::from(fd))
}

/// Creates (or truncates) `rel` under `root`, with its missing folders.
pub(crate) fn open_create(root: &Path, rel: &Path) -> io::Result<std::fs::File> {
    let (dir, last) = parent(root, rel, true)?;
    let fd = openat(
        &dir,
        last,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    Ok(std::fs::File::from(fd))
}

/// Removes the file `rel` under `root` (a link is removed itself, never followed).
pub(crate) fn remove(root: &Path, rel: &Path) -> io::Result<()> {
    let (dir, last) = parent(root, rel, false)?;
    unlinkat(&dir, last, AtFlags::empty())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn files_are_reached_below_the_root_only_through_real_folders() {
        let root = tempfile::tempdir().expect("root");
        let outside = tempfile::tempdir().expect("outside");
        let mut f = open_create(root.path(), Path::new("a/b/c.txt")).expect("create");
        f.write_all(b"hi").expect("write");
        let mut text = String::new();
        open_read(root.path(), Path::new("a/b/c.txt"))
            .expect("read")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "hi");
        // A folder swapped for a link to the outside: neither reading, writing nor
        // creating below it reaches the outside.
        std::fs::write(outside.path().join("c.txt"), "secret").expect("outside file");
        std::fs::remove_dir_all(root.path().join("a/b")).expect("remove");
        std::os::unix::fs::symlink(outside.path(), root.path().join("a/b")).expect("link");
        assert!(open_read(root.path(), Path::new("a/b/c.txt")).is_err());
        assert!(open_create(root.path(), Path::new("a/b/new.txt")).is_err());
        assert!(remove(root.path(), Path::new("a/b/c.txt")).is_err());
        assert!(!outside.path().join("new.txt").exists());
        assert!(outside.path().join("c.txt").exists());
        // A link as the last component is not followed either.
        std::os::unix::fs::symlink(outside.path().join("c.txt"), root.path().join("a/l"))
            .expect("link");
        assert!(open_read(root.path(), Path::new("a/l")).is_err());
        assert!(open_create(root.path(), Path::new("a/l")).is_err());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("c.txt")).expect("intact"),
            "secret"
        );
        assert!(open_read(root.path(), Path::new("../x")).is_err());
    }
}
