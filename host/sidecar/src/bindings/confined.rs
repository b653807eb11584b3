//! Files under a root folder reached without following any link: each component of a
//! name is opened relative to its parent's descriptor with `O_NOFOLLOW`, so a folder
//! swapped for a link between a check and the access cannot send it outside the root.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, mkdirat, openat, statat, unlinkat};

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

/// Removes the file or empty folder `rel` under `root`, like Go's `os.Remove` (a link is
/// removed itself, never followed).
pub(crate) fn remove(root: &Path, rel: &Path) -> io::Result<()> {
    let (dir, last) = parent(root, rel, false)?;
    match unlinkat(&dir, last, AtFlags::empty()) {
        Err(rustix::io::Errno::ISDIR) => unlinkat(&dir, last, AtFlags::REMOVEDIR)?,
        other => other?,
    }
    Ok(())
}

/// Every entry that is not a folder below the folder `rel` of `root` (`root` itself when
/// `rel` is empty), as paths relative to that folder, in the order of Go's
/// `filepath.Walk`: depth first, each folder's names in byte order. Folders are opened
/// from their parent's descriptor with `O_NOFOLLOW`, so a link is listed, never entered.
/// `admit` sees each path before it is kept and may stop the walk with an error.
pub(crate) fn walk(
    root: &Path,
    rel: &Path,
    admit: &mut dyn FnMut(&Path) -> io::Result<()>,
) -> io::Result<Vec<PathBuf>> {
    let mut dir = openat(
        CWD,
        root,
        OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY,
        Mode::empty(),
    )?;
    for c in rel.components() {
        match c {
            Component::Normal(p) => dir = openat(&dir, p, dir_flags(), Mode::empty())?,
            _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
        }
    }
    let mut out = Vec::new();
    walk_dir(&dir, Path::new(""), &mut out, admit)?;
    Ok(out)
}

fn walk_dir(
    dir: &OwnedFd,
    prefix: &Path,
    out: &mut Vec<PathBuf>,
    admit: &mut dyn FnMut(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let mut names: Vec<(OsString, bool)> = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            FileType::Unknown => {
                let st = statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)?;
                FileType::from_raw_mode(st.st_mode) == FileType::Directory
            }
            _ => false,
        };
        names.push((OsStr::from_bytes(name).to_os_string(), is_dir));
    }
    names.sort();
    for (name, is_dir) in names {
        let path = prefix.join(&name);
        if is_dir {
            let sub = openat(dir, name.as_os_str(), dir_flags(), Mode::empty())?;
            walk_dir(&sub, &path, out, admit)?;
        } else {
            admit(&path)?;
            out.push(path);
        }
    }
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

    #[test]
    fn walks_list_files_in_go_order_and_never_enter_links() {
        let root = tempfile::tempdir().expect("root");
        let outside = tempfile::tempdir().expect("outside");
        std::fs::write(outside.path().join("secret"), "s").expect("outside file");
        for f in ["b", "a.txt", "a/x", "a/y/z"] {
            open_create(root.path(), Path::new(f)).expect("create");
        }
        std::os::unix::fs::symlink(outside.path(), root.path().join("c")).expect("link");
        let mut all = |_: &Path| -> io::Result<()> { Ok(()) };
        let names = walk(root.path(), Path::new(""), &mut all).expect("walk");
        let names: Vec<_> = names
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a/x", "a/y/z", "a.txt", "b", "c"]);
        let sub = walk(root.path(), Path::new("a"), &mut all).expect("walk a");
        assert_eq!(sub, [PathBuf::from("x"), PathBuf::from("y/z")]);
        // A link or a file is not walked into; the admit hook can stop the walk.
        assert!(walk(root.path(), Path::new("c"), &mut all).is_err());
        assert!(walk(root.path(), Path::new("b"), &mut all).is_err());
        let mut none = |_: &Path| -> io::Result<()> { Err(io::Error::other("full")) };
        assert!(walk(root.path(), Path::new(""), &mut none).is_err());
        // Empty folders are removed like files; a folder with files is not.
        std::fs::create_dir(root.path().join("empty")).expect("mkdir");
        remove(root.path(), Path::new("empty")).expect("rmdir");
        assert!(remove(root.path(), Path::new("a")).is_err());
    }
}
