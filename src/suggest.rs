//! "Did you mean": the known names close to a mistyped one, for the console, CVars, input
//! keys, components, resources, messages and jobs.

/// The crate's Lua libraries, by global name: what game functions cannot name as their
/// library, and what tracebacks leave out as the crate's own frames.
pub(crate) const LIBRARIES: &[&str] = &[
    "commands",
    "console",
    "cvar",
    "ecs",
    "events",
    "hooks",
    "input",
    "jobs",
    "log",
    "profiler",
    "task",
    "time",
    "transform",
];

/// The longest name the crate keeps or compares: CVar and console command names, and the names
/// "did you mean" looks at, so that its edit distance stays cheap whatever a script passes.
pub(crate) const MAX_NAME: usize = 64;

/// `name` as an error message shows it: whole up to [`MAX_NAME`] bytes, else its start and its
/// length, so that a huge name does not make a huge message.
pub(crate) fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= MAX_NAME {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut end = MAX_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}… ({} bytes)", &name[..end], name.len()))
}

/// The longest text the crate keeps from a script besides values it converts: a CVar's
/// description or string value, a console command's help.
pub(crate) const MAX_TEXT: usize = 4096;

/// Up to three names from `known` close to `name` (by edit distance, or sharing a prefix); none
/// for a name longer than [`MAX_NAME`], and names that long are not compared.
pub(crate) fn close_matches<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Vec<String> {
    if name.len() > MAX_NAME {
        return Vec::new();
    }
    let known = known.filter(|candidate| candidate.len() <= MAX_NAME);
    let name = name.to_ascii_lowercase();
    let limit = (name.len() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = known
        .filter_map(|candidate| {
            let lower = candidate.to_ascii_lowercase();
            let distance = strsim::levenshtein(&name, &lower);
            let related = lower.starts_with(&name) || name.starts_with(&lower);
            (distance <= limit || (related && name.len() >= 2)).then_some((distance, candidate))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_owned())
        .collect()
}

/// The end of a sentence that named `name`: `"; did you mean `Health`?"` for the names of
/// `known` close to it, or `"."`.
pub(crate) fn did_you_mean<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    let close = close_matches(name, known);
    match close.as_slice() {
        [] => ".".to_owned(),
        [only] => format!("; did you mean `{only}`?"),
        several => {
            let quoted: Vec<String> = several.iter().map(|n| format!("`{n}`")).collect();
            format!("; did you mean one of {}?", quoted.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_matches_find_typos() {
        let known = ["r_fov", "r_vsync", "sv_cheats", "name"];
        assert_eq!(close_matches("r_fv", known.iter().copied()), ["r_fov"]);
        assert!(close_matches("zzzzzz", known.iter().copied()).is_empty());
    }

    #[test]
    fn long_names_get_no_suggestion() {
        let long = "r".repeat(MAX_NAME + 1);
        assert!(close_matches(&long, [long.as_str()].into_iter()).is_empty());
        assert!(close_matches("r", [long.as_str()].into_iter()).is_empty());
    }

    #[test]
    fn did_you_mean_quotes_one_or_several_names() {
        let known = ["Health", "Heat", "Stamina"];
        assert_eq!(
            did_you_mean("Stamnia", known.iter().copied()),
            "; did you mean `Stamina`?"
        );
        assert_eq!(
            did_you_mean("Hea", known.iter().copied()),
            "; did you mean one of `Heat`, `Health`?"
        );
        assert_eq!(did_you_mean("Velocity", known.iter().copied()), ".");
    }
}
