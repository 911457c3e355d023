//! The README, read by the tests that check it: its fenced blocks and its luau-lsp commands.

use std::path::{Path, PathBuf};

/// The README's text.
pub fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(path).expect("read README.md")
}

/// A fenced block of the README: its language, its first line's number, and its text.
pub struct Block {
    pub language: String,
    pub line: usize,
    pub text: String,
}

/// The fenced blocks of `markdown`, in order.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (number, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(language)) => {
                open = Some(Block {
                    language: language.trim().to_owned(),
                    line: number + 2,
                    text: String::new(),
                });
            }
            (Some(_), Some("")) => blocks.extend(open.take()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

/// The README's luau-lsp commands: the lines of the `sh` block under "The command line".
pub fn commands(markdown: &str) -> Vec<Vec<String>> {
    let (_, after) = markdown
        .split_once("**The command line:**")
        .expect("the README has a \"The command line\" paragraph");
    let block = blocks(after)
        .into_iter()
        .find(|b| b.language == "sh")
        .expect("a sh block under it");
    block
        .text
        .lines()
        .filter(|line| line.starts_with("luau-lsp "))
        .map(|line| {
            line.split_whitespace()
                .map(|word| word.replace('"', ""))
                .collect()
        })
        .collect()
}

/// Runs the README's luau-lsp commands as written, in `root`, with `lsp` for `luau-lsp`; one
/// report per command that failed or printed a diagnostic.
pub fn run_commands(lsp: &Path, markdown: &str, root: &Path) -> Vec<String> {
    let mut reports = Vec::new();
    for command in commands(markdown) {
        let run = super::run_luau_lsp(lsp, &command[1..], root);
        if !run.clean() {
            reports.push(format!(
                "`{}` ({}):\n{}",
                command.join(" "),
                run.status,
                run.diagnostics.join("\n")
            ));
        }
    }
    reports
}

/// A project folder laid out as the README's "Editor setup" describes: `assets/scripts/` with
/// a `.luaurc` for strict mode, `assets/scripts/workers/` for worker scripts and
/// `assets/scripts/actors/` for actor scripts. Returns the asset folder.
pub fn project(root: &Path) -> PathBuf {
    let assets = root.join("assets");
    let scripts = assets.join("scripts");
    for folder in ["workers", "actors"] {
        std::fs::create_dir_all(scripts.join(folder)).expect("create the folders");
    }
    std::fs::write(scripts.join(".luaurc"), r#"{ "languageMode": "strict" }"#)
        .expect("write .luaurc");
    assets
}
