//! README checks: the fenced blocks of a Markdown file, and the ```` ```text ```` blocks
//! of its `## Expected output` section, which example tests compare with real output.

use std::path::Path;

/// The fenced blocks of Markdown `text`, in order, as (info string, body). A body keeps
/// its lines' `\n`; an unclosed block at the end is dropped.
pub fn fenced_blocks(text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines() {
        match (line.strip_prefix("```"), open.take()) {
            (Some(_), Some(block)) => blocks.push(block),
            (Some(info), None) => open = Some((info.trim().to_string(), String::new())),
            (None, Some((info, mut body))) => {
                body.push_str(line);
                body.push('\n');
                open = Some((info, body));
            }
            (None, None) => {}
        }
    }
    blocks
}

/// The ```` ```text ```` blocks after the `## Expected output` heading of the README at
/// `path`, in order (up to the next `## ` heading). Panics naming the file when there is
/// no such heading or no such block.
pub fn expected_output(path: &Path) -> Vec<String> {
    let readme =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let (_, section) = readme
        .split_once("## Expected output")
        .unwrap_or_else(|| panic!("{}: no `## Expected output`", path.display()));
    let section = section.split("\n## ").next().unwrap_or_default();
    let blocks: Vec<String> = fenced_blocks(section)
        .into_iter()
        .filter(|(info, _)| info == "text")
        .map(|(_, body)| body)
        .collect();
    assert!(
        !blocks.is_empty(),
        "{}: no ```text block under `## Expected output`",
        path.display()
    );
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_info_strings_and_lines() {
        let md = "intro\n```sh\nrun it\n```\n\n```text\na\nb\n```\n```\nopen";
        let blocks = fenced_blocks(md);
        assert_eq!(
            blocks,
            vec![
                ("sh".to_string(), "run it\n".to_string()),
                ("text".to_string(), "a\nb\n".to_string()),
            ]
        );
    }

    #[test]
    fn expected_output_takes_text_blocks_of_its_section_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("README.md");
        let md = "```text\nbefore\n```\n## Expected output\n```sh\ncmd\n```\n```text\none\n```\n```text\ntwo\n```\n## Next\n```text\nafter\n```\n";
        std::fs::write(&path, md).expect("write");
        assert_eq!(expected_output(&path), vec!["one\n", "two\n"]);
    }

    #[test]
    #[should_panic(expected = "no `## Expected output`")]
    fn a_readme_without_the_section_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("README.md");
        std::fs::write(&path, "# nothing\n").expect("write");
        expected_output(&path);
    }
}
