//! The crate's layering, checked on its source: `unsafe` code lives in `src/ffi/` only, that
//! floor imports nothing of the crate above it, and no file imports another in a circle.
//!
//! The soundness argument in `src/ffi/mod.rs` is written once, for that folder alone. It holds
//! only while every `unsafe` block is inside `src/ffi/` (the `unsafe_code` lint can be lifted by
//! one quiet `#[allow]`) and while nothing there imports the crate's domain code, whose changes
//! would otherwise reach into the argument unread. The third check keeps the layers pointing one
//! way: two files that import each other are one concept split wrongly, or a shared piece that
//! belongs a layer down.
//!
//! The checks read the source as text, with std only. Comments and literals are blanked first.
//! Every `crate::`, `super::` and `self::` path counts, with its `{...}` groups, and so does a
//! module naming its child module relatively (`child::item`). A path points at the longest
//! module it names: `crate::a::b::f` at `a/b.rs` if that file exists, else at `a.rs` or
//! `a/mod.rs`. `lib.rs`, which declares every module, is never a target. Test modules
//! (`#[cfg(test)] mod tests { ... }`) and test-only files (`*tests.rs`, `test_support.rs`,
//! `testing.rs`) are left out of the import graph.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[test]
fn the_unsafe_floor_imports_nothing_of_the_crate() {
    let offenders = floor_imports(&crate_source());
    assert_none("src/ffi/ imports the crate outside src/ffi/", &offenders);
}

#[test]
fn unsafe_code_lives_in_ffi_only() {
    let offenders = unsafe_outside_floor(&crate_source());
    assert_none("`unsafe` code outside src/ffi/", &offenders);
}

#[test]
fn no_file_imports_in_a_circle() {
    let circles = import_circles(&crate_source());
    assert_none("files that import each other in a circle", &circles);
}

#[test]
fn the_checks_catch_violations() {
    let tree = TempTree::new("the_checks_catch_violations");
    tree.write(
        "lib.rs",
        &[
            "//! One violation of each kind.",
            "mod a;",
            "mod b;",
            "mod ffi;",
            "mod registry;",
        ],
    );
    tree.write(
        "ffi/mod.rs",
        &[
            "//! The floor. Naming crate::registry in a comment is fine.",
            "mod world;",
            "use crate::registry::Access;",
            "pub(crate) use world::Lent;",
            "pub(crate) const NOTE: &str = \"crate::registry in a string is fine\";",
            "#[cfg(test)]",
            "mod tests {",
            "    use super::*;",
            "}",
        ],
    );
    tree.write(
        "ffi/world.rs",
        &[
            "use super::super::registry::Access;",
            "use super::{NOTE};",
            "pub(crate) struct Lent;",
            "pub(crate) fn lend() {",
            "    // SAFETY: the floor may hold `unsafe`.",
            "    unsafe {}",
            "}",
        ],
    );
    tree.write(
        "registry.rs",
        &[
            "pub struct Access;",
            "pub fn helper() -> crate::a::Helper { crate::a::Helper }",
            "/// `unsafe { }` in a doc comment is fine, and so is \"unsafe fn\" in a string.",
            "pub fn read() -> &'static str { \"unsafe fn\" }",
            "pub fn poke() { unsafe { } }",
        ],
    );
    tree.write(
        "a.rs",
        &[
            "use crate::{registry::Access};",
            "pub struct Helper;",
            "#[cfg(test)]",
            "mod tests {",
            "    use crate::b::Other;",
            "}",
        ],
    );
    tree.write("b.rs", &["use crate::a::Helper;", "pub struct Other;"]);

    assert_eq!(
        floor_imports(&tree.src()),
        [
            "src/ffi/mod.rs:3: use crate::registry::Access;",
            "src/ffi/world.rs:1: use super::super::registry::Access;",
        ]
    );
    assert_eq!(
        unsafe_outside_floor(&tree.src()),
        ["src/registry.rs:5: pub fn poke() { unsafe { } }"]
    );
    // The test module's import of `b`, which imports `a`, is no circle.
    assert_eq!(
        import_circles(&tree.src()),
        [
            "src/a.rs -> src/registry.rs -> src/a.rs",
            "src/ffi/mod.rs -> src/ffi/world.rs -> src/ffi/mod.rs",
        ]
    );
}

/// Fails with `what` and one line for each of `findings`, if there are any.
#[track_caller]
fn assert_none<T: AsRef<str>>(what: &str, findings: &[T]) {
    let lines: Vec<&str> = findings.iter().map(AsRef::as_ref).collect();
    assert!(lines.is_empty(), "{what}:\n{}", lines.join("\n"));
}

/// The `src/` folder of this crate.
fn crate_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Each reference in a file under `root/ffi/` to a module outside it, as `file:line: code`.
fn floor_imports(root: &Path) -> Vec<String> {
    let files = read_sources(root);
    let floor: Vec<&SourceFile> = files.iter().filter(|file| file.in_floor()).collect();
    assert!(!floor.is_empty(), "no ffi/ under {}", root.display());
    floor
        .into_iter()
        .flat_map(|file| {
            file.references()
                .into_iter()
                .filter(|reference| reference.path.first().map(String::as_str) != Some("ffi"))
                .map(|reference| file.place(reference.offset))
        })
        .collect()
}

/// Each `unsafe` block, function, impl, extern block or trait outside `root/ffi/`, as
/// `file:line: code`. Test code counts: the lint it stands in for covers it too.
fn unsafe_outside_floor(root: &Path) -> Vec<String> {
    read_sources(root)
        .iter()
        .filter(|file| !file.in_floor())
        .flat_map(|file| {
            words(&file.code, "unsafe")
                .filter(|&at| opens_unsafe_code(&file.code[at + "unsafe".len()..]))
                .map(|at| file.place(at))
        })
        .collect()
}

/// Whether the code after an `unsafe` keyword makes it unsafe code: a block, or whitespace and
/// `fn`, `impl`, `extern` or `trait`.
fn opens_unsafe_code(after: &str) -> bool {
    let rest = after.trim_start();
    let spaced = rest.len() < after.len();
    rest.starts_with('{')
        || spaced
            && ["fn", "impl", "extern", "trait"].iter().any(|keyword| {
                rest.strip_prefix(keyword)
                    .is_some_and(|tail| !tail.starts_with(is_ident_char))
            })
}

/// Each circle of imports among the files under `root`, as `a.rs -> b.rs -> a.rs`: one line
/// for each group of files that reach one another, the shortest circle through its first file,
/// then the group's other files, if any, in brackets.
fn import_circles(root: &Path) -> Vec<String> {
    let files: Vec<SourceFile> = read_sources(root)
        .into_iter()
        .filter(|file| !file.is_test_only())
        .collect();
    let edges = import_graph(&files);
    let name = |node: &usize| files[*node].label.as_str();
    strongly_connected(&edges)
        .into_iter()
        .map(|component| {
            let circle = shortest_circle(&component, &edges);
            let line = circle.iter().map(name).collect::<Vec<_>>().join(" -> ");
            let others: Vec<&str> = component
                .iter()
                .filter(|node| !circle.contains(node))
                .map(name)
                .collect();
            if others.is_empty() {
                line
            } else {
                format!("{line} (with {})", others.join(", "))
            }
        })
        .collect()
}

/// For each file, the files it imports (by index into `files`), outside its test modules.
fn import_graph(files: &[SourceFile]) -> Vec<BTreeSet<usize>> {
    let modules: BTreeMap<&[String], usize> = files
        .iter()
        .enumerate()
        .map(|(node, file)| (file.module.as_slice(), node))
        .collect();
    files
        .iter()
        .enumerate()
        .map(|(node, file)| {
            let referenced = file
                .references()
                .into_iter()
                .filter(|reference| !file.in_test(reference.offset))
                .filter_map(|reference| longest_module(&modules, &reference.path));
            let children = files
                .iter()
                .enumerate()
                .filter(|(_, child)| child.is_child_of(file) && file.mentions_child(child))
                .map(|(child, _)| child);
            referenced
                .chain(children)
                .filter(|&target| target != node)
                .collect()
        })
        .collect()
}

/// The file of the longest module that `path` starts with; `None` for the crate root alone.
fn longest_module(modules: &BTreeMap<&[String], usize>, path: &[String]) -> Option<usize> {
    (1..=path.len())
        .rev()
        .find_map(|length| modules.get(&path[..length]).copied())
}

/// The strongly connected components of more than one node: the groups of nodes that reach one
/// another. (The graph has a hundred nodes, so a search from each is cheap.)
fn strongly_connected(edges: &[BTreeSet<usize>]) -> Vec<BTreeSet<usize>> {
    let reach: Vec<BTreeSet<usize>> = (0..edges.len())
        .map(|node| reachable(node, edges))
        .collect();
    let mut components: Vec<BTreeSet<usize>> = Vec::new();
    for node in 0..edges.len() {
        let on_a_circle = reach[node].contains(&node);
        if on_a_circle && !components.iter().any(|known| known.contains(&node)) {
            components.push(
                (reach[node].iter().copied())
                    .filter(|&other| reach[other].contains(&node))
                    .collect(),
            );
        }
    }
    components
}

/// The nodes that `start` reaches through one edge or more.
fn reachable(start: usize, edges: &[BTreeSet<usize>]) -> BTreeSet<usize> {
    let mut reached = BTreeSet::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in &edges[node] {
            if reached.insert(next) {
                queue.push_back(next);
            }
        }
    }
    reached
}

/// The shortest circle through the first node of a strongly connected component, staying inside
/// it, from that node back to it.
fn shortest_circle(component: &BTreeSet<usize>, edges: &[BTreeSet<usize>]) -> Vec<usize> {
    let start = *component.first().expect("a component has a node");
    let mut previous = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in edges[node].intersection(component) {
            if next == start {
                let mut circle = vec![start];
                let mut at = node;
                while at != start {
                    circle.push(at);
                    at = previous[&at];
                }
                circle.push(start);
                circle.reverse();
                return circle;
            }
            if let Entry::Vacant(entry) = previous.entry(next) {
                entry.insert(node);
                queue.push_back(next);
            }
        }
    }
    unreachable!("every node of a strongly connected component is on a circle")
}

/// A Rust file under the source root.
struct SourceFile {
    /// Its path from the source root's parent: `src/ffi/world.rs`.
    label: String,
    /// Its module path from the crate root: `["ffi", "world"]`; empty for `lib.rs`.
    module: Vec<String>,
    /// Its text as written.
    source: String,
    /// Its text with comments and literals blanked, at the same byte offsets.
    code: String,
    /// The `mod name { ... }` blocks written in it.
    inline_modules: Vec<InlineModule>,
}

/// A `mod name { ... }` block inside a file.
struct InlineModule {
    name: String,
    /// From its `{` to its `}`.
    body: Range<usize>,
    /// Whether it is under `#[cfg(test)]`.
    test: bool,
}

/// A path to a module or item of the crate, written in a file.
struct Reference {
    /// Where the path starts in the file.
    offset: usize,
    /// The path from the crate root, without `crate`: `["ffi", "stack", "Stack"]`.
    path: Vec<String>,
}

impl SourceFile {
    /// Whether the file is under `ffi/`, the unsafe floor.
    fn in_floor(&self) -> bool {
        self.module.first().is_some_and(|top| top == "ffi")
    }

    /// Whether the whole file is test code, by its name.
    fn is_test_only(&self) -> bool {
        self.label.ends_with("tests.rs")
            || self.label.ends_with("/test_support.rs")
            || self.label.ends_with("/testing.rs")
    }

    /// Whether `self` is a module declared directly by `parent`.
    fn is_child_of(&self, parent: &SourceFile) -> bool {
        self.module.len() == parent.module.len() + 1 && self.module.starts_with(&parent.module)
    }

    /// Whether the file's code, outside its test modules, names `child` relatively
    /// (`child::item`, not `other::child::item`).
    fn mentions_child(&self, child: &SourceFile) -> bool {
        let name = child.module.last().expect("a child module has a name");
        words(&self.code, name).any(|at| {
            !self.in_test(at)
                && self.code[at + name.len()..].starts_with("::")
                && !self.code[..at].ends_with(':')
        })
    }

    /// Each `crate::`, `super::` or `self::` path in the code, from the crate root; a `{a, b}`
    /// group gives one path per item.
    fn references(&self) -> Vec<Reference> {
        let mut references: Vec<Reference> = ["crate", "super", "self"]
            .into_iter()
            .flat_map(|start| {
                words(&self.code, start).filter(move |&at| {
                    self.code[at + start.len()..].starts_with("::")
                        && !self.code[..at].trim_end().ends_with("::")
                })
            })
            .flat_map(|at| {
                let module = self.module_at(at);
                Cursor::new(&self.code, at)
                    .tree()
                    .into_iter()
                    .filter_map(move |path| from_crate_root(&module, &path))
                    .map(move |path| Reference { offset: at, path })
            })
            .collect();
        references.sort_by_key(|reference| reference.offset);
        references
    }

    /// The module that the code at `offset` is in, counting the inline modules around it.
    fn module_at(&self, offset: usize) -> Vec<String> {
        let mut module = self.module.clone();
        module.extend(
            self.inline_modules
                .iter()
                .filter(|inline| inline.body.contains(&offset))
                .map(|inline| inline.name.clone()),
        );
        module
    }

    /// Whether the code at `offset` is inside a test module.
    fn in_test(&self, offset: usize) -> bool {
        self.inline_modules
            .iter()
            .any(|inline| inline.test && inline.body.contains(&offset))
    }

    /// The line at `offset`, as `file:line: code`.
    fn place(&self, offset: usize) -> String {
        let line = self.source[..offset].matches('\n').count();
        let text = self.source.lines().nth(line).unwrap_or_default().trim();
        format!("{}:{}: {text}", self.label, line + 1)
    }
}

/// `path` (starting with `crate`, `self` or `super`) written in `module`, from the crate root;
/// `None` if it climbs above the root.
fn from_crate_root(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut absolute = match path.first()?.as_str() {
        "crate" => Vec::new(),
        _ => module.to_vec(),
    };
    let climbs = path
        .iter()
        .take_while(|segment| *segment == "super")
        .count();
    absolute.truncate(absolute.len().checked_sub(climbs)?);
    absolute.extend(path[climbs.max(1)..].iter().cloned());
    Some(absolute)
}

/// Every Rust file under `root`, sorted by path.
fn read_sources(root: &Path) -> Vec<SourceFile> {
    rust_files(root)
        .into_iter()
        .map(|path| {
            let source = fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
            let code = blank_comments_and_literals(&source);
            SourceFile {
                label: label(root, &path),
                module: module_path(root, &path),
                inline_modules: inline_modules(&code),
                source,
                code,
            }
        })
        .collect()
}

/// The `.rs` files under `dir`, at any depth, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()));
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()))
            .path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `path` from `root`'s parent, with `/` between its parts: `src/ffi/world.rs`.
fn label(root: &Path, path: &Path) -> String {
    let base = root.parent().unwrap_or(root);
    parts(path.strip_prefix(base).expect("the file is under the root")).join("/")
}

/// The module that the file at `path` under `root` defines: `ffi/world.rs` and `ffi/world/mod.rs`
/// are `["ffi", "world"]`, `lib.rs` is `[]`.
fn module_path(root: &Path, path: &Path) -> Vec<String> {
    let mut module = parts(
        &path
            .strip_prefix(root)
            .expect("the file is under the root")
            .with_extension(""),
    );
    if module.last().is_some_and(|last| last == "mod") || module == ["lib"] {
        module.pop();
    }
    module
}

/// The parts of a relative path, as text.
fn parts(path: &Path) -> Vec<String> {
    path.components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect()
}

/// The `mod name { ... }` blocks in `code` (comments and literals blanked).
fn inline_modules(code: &str) -> Vec<InlineModule> {
    words(code, "mod")
        .filter_map(|at| {
            let mut cursor = Cursor::new(code, at + "mod".len());
            let name = cursor.segment()?;
            cursor.eat("{").then(|| {
                let open = cursor.at - 1;
                InlineModule {
                    name,
                    body: open..closing_brace(code, open),
                    test: under_cfg_test(code, at),
                }
            })
        })
        .collect()
}

/// Whether the item whose keyword is at `at` carries `#[cfg(test)]`: the attribute sits
/// between the end of the previous item and the keyword.
fn under_cfg_test(code: &str, at: usize) -> bool {
    let item_start = code[..at].rfind(['{', '}', ';']).map_or(0, |end| end + 1);
    code[item_start..at].contains("#[cfg(test)]")
}

/// The offset of the `}` that closes the `{` at `open`, or the end of `code` if none does.
fn closing_brace(code: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (at, byte) in code.bytes().enumerate().skip(open) {
        match byte {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return at;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// The offsets where `word` stands as a whole word in `code`.
fn words<'a>(code: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    code.match_indices(word)
        .map(|(at, _)| at)
        .filter(move |&at| {
            !code[..at].ends_with(is_ident_char)
                && !code[at + word.len()..].starts_with(is_ident_char)
        })
}

/// Whether `c` can be part of an identifier.
fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A reading position in blanked code, for paths and `use` trees.
struct Cursor<'a> {
    code: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(code: &'a str, at: usize) -> Self {
        Self { code, at }
    }

    /// Skips whitespace, then takes `token` if it comes next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_whitespace();
        let found = self.code[self.at..].starts_with(token);
        if found {
            self.at += token.len();
        }
        found
    }

    /// Skips whitespace, then takes an identifier or a `*` if one comes next.
    fn segment(&mut self) -> Option<String> {
        self.skip_whitespace();
        let rest = &self.code[self.at..];
        let length = if rest.starts_with('*') {
            1
        } else {
            rest.find(|c| !is_ident_char(c)).unwrap_or(rest.len())
        };
        (length > 0).then(|| {
            self.at += length;
            rest[..length].to_owned()
        })
    }

    fn skip_whitespace(&mut self) {
        let rest = &self.code[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    /// Reads a path or a `use` tree (`a::b::c`, `a::{b, c::{d, e}}`): every full path it names.
    fn tree(&mut self) -> Vec<Vec<String>> {
        let mut prefix = Vec::new();
        loop {
            if self.eat("{") {
                return self.group(&prefix);
            }
            let Some(segment) = self.segment() else {
                break;
            };
            prefix.push(segment);
            if !self.eat("::") {
                break;
            }
        }
        vec![prefix]
    }

    /// Reads the rest of a `{a, b::c as d}` group after its `{`: each of its paths, after
    /// `prefix`.
    fn group(&mut self, prefix: &[String]) -> Vec<Vec<String>> {
        let mut paths = Vec::new();
        while !self.eat("}") {
            paths.extend(self.tree().into_iter().map(|path| [prefix, &path].concat()));
            if self.eat("as ") {
                self.segment();
            }
            if !self.eat(",") {
                self.eat("}");
                break;
            }
        }
        paths
    }
}

/// `source` with every comment and every string and character literal replaced by spaces
/// (line breaks kept), so offsets and lines stay those of the source.
fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut code = String::with_capacity(source.len());
    let mut at = 0;
    while at < chars.len() {
        let rest = &chars[at..];
        let after_ident = at > 0 && is_ident_char(chars[at - 1]);
        let length = match rest {
            ['/', '/', ..] => Some(rest.iter().take_while(|&&c| c != '\n').count()),
            ['/', '*', ..] => Some(block_comment_length(rest)),
            ['"', ..] => Some(string_length(rest)),
            ['r', '#' | '"', ..] if !after_ident => raw_string_length(rest),
            ['b', 'r', '#' | '"', ..] if !after_ident => {
                raw_string_length(&rest[1..]).map(|length| length + 1)
            }
            ['\'', ..] => char_length(rest),
            _ => None,
        };
        match length {
            Some(length) => {
                rest[..length].iter().for_each(|&c| blank(&mut code, c));
                at += length;
            }
            None => {
                code.push(chars[at]);
                at += 1;
            }
        }
    }
    code
}

/// Pushes the blank that stands for `c`: a line break for a line break, else as many spaces as
/// `c` has bytes.
fn blank(code: &mut String, c: char) {
    if c == '\n' {
        code.push('\n');
    } else {
        code.extend(std::iter::repeat_n(' ', c.len_utf8()));
    }
}

/// The length of the `/* ... */` comment that `rest` starts with, nested comments included.
fn block_comment_length(rest: &[char]) -> usize {
    let mut depth = 0usize;
    let mut at = 0;
    while at < rest.len() {
        match rest[at..] {
            ['/', '*', ..] => {
                depth += 1;
                at += 2;
            }
            ['*', '/', ..] => {
                depth -= 1;
                at += 2;
                if depth == 0 {
                    return at;
                }
            }
            _ => at += 1,
        }
    }
    rest.len()
}

/// The length of the `"..."` literal that `rest` starts with, escapes included.
fn string_length(rest: &[char]) -> usize {
    let mut at = 1;
    while at < rest.len() {
        match rest[at] {
            '\\' => at += 2,
            '"' => return at + 1,
            _ => at += 1,
        }
    }
    rest.len()
}

/// The length of the `r"..."` or `r#"..."#` literal that `rest` starts with; `None` if `rest`
/// starts with a raw identifier (`r#type`) instead.
fn raw_string_length(rest: &[char]) -> Option<usize> {
    let hashes = rest[1..].iter().take_while(|&&c| c == '#').count();
    if rest.get(1 + hashes) != Some(&'"') {
        return None;
    }
    let body = 2 + hashes;
    let end: Vec<char> = std::iter::once('"')
        .chain(std::iter::repeat_n('#', hashes))
        .collect();
    let closed = rest[body..]
        .windows(end.len())
        .position(|window| window == end);
    Some(closed.map_or(rest.len(), |at| body + at + end.len()))
}

/// The length of the character literal that `rest` starts with (`'a'`, `'\n'`, `'\u{1F600}'`);
/// `None` for a lifetime (`'a`).
fn char_length(rest: &[char]) -> Option<usize> {
    match rest {
        ['\'', '\\', _, tail @ ..] => tail.iter().position(|&c| c == '\'').map(|end| end + 4),
        ['\'', _, '\'', ..] => Some(3),
        _ => None,
    }
}

/// A source tree written to a folder of its own under the system's temp folder, removed when
/// dropped (also when the test fails).
struct TempTree {
    root: PathBuf,
}

impl TempTree {
    /// An empty tree, in a folder named after `name` and this process.
    fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!("bevy_luau_{name}_{}", std::process::id()));
        if root.exists() {
            fs::remove_dir_all(&root).expect("removing a stale temp tree");
        }
        Self { root }
    }

    /// Writes `lines` to `path` under the tree's `src/`.
    fn write(&self, path: &str, lines: &[&str]) {
        let path = self.src().join(path);
        fs::create_dir_all(path.parent().expect("a file has a folder")).expect("creating a folder");
        fs::write(&path, lines.join("\n") + "\n").expect("writing a file");
    }

    /// The tree's `src/` folder.
    fn src(&self) -> PathBuf {
        self.root.join("src")
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}
