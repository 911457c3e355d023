//! "Did you mean": the known names close to a mistyped one, for the console, CVars and input
//! keys.

/// Up to three names from `known` close to `name` (by edit distance, or sharing a prefix).
pub(crate) fn close_matches<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_matches_find_typos() {
        let known = ["r_fov", "r_vsync", "sv_cheats", "name"];
        assert_eq!(close_matches("r_fv", known.iter().copied()), ["r_fov"]);
        assert!(close_matches("zzzzzz", known.iter().copied()).is_empty());
    }
}
