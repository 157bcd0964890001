//! Building the automata the finder (`finder.rs`) runs: the combined catalog of a role as a
//! lazy DFA, with each `X.*Y` pattern cut to its literal prefixes, and the exact matchers that
//! check what that DFA flags.
//!
//! A lazy DFA builds its states as the input asks for them. Over the whole catalog, every `X.*Y`
//! pattern whose `X` a line has shown keeps a thread alive to the end of the line, waiting for `Y`,
//! and each combination of such threads (and of where each is inside its `Y`) is a state of its
//! own: a line packed with the `X`s of several patterns makes a new state every few bytes, and the
//! cache is filled and cleared over and over (200-430x slower than a plain log). So the combined
//! DFA gets only the prefixes of those patterns (`RollbackException`), which cannot combine
//! that way; a line it flags is checked exactly, by each cut pattern on its own (one pattern's DFA
//! stays small) and by a second combined DFA of the patterns kept whole. Both DFAs also have a
//! budget of cache clears: past it, and with few bytes searched per state built, they give up and
//! the line is checked by every pattern on its own, which is linear whatever the line.

use std::sync::OnceLock;

use regex_automata::hybrid::dfa::DFA;
use regex_automata::meta;
use regex_automata::nfa::thompson;
use regex_automata::util::prefilter::Prefilter;
use regex_automata::util::syntax;
use regex_automata::MatchKind;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

use crate::watch::catalog::{Role, CATALOG};

/// Cache clears a DFA may make before it may give up (when it also builds a state for fewer than
/// [`MIN_BYTES_PER_STATE`] bytes searched): a plain log never clears the cache at all.
const CLEAR_BUDGET: usize = 2;
const MIN_BYTES_PER_STATE: usize = 64;

/// The combined catalog of ~50 alternatives needs more states than the default cache holds; a
/// cache that is cleared over and over halves the throughput.
pub(super) const CACHE_CAPACITY: usize = 16 << 20;

/// The automata of one role.
pub(super) struct Compiled {
    /// The combined catalog, with the cut patterns as their prefixes.
    pub(super) dfa: DFA,
    /// Whether a search may start after a record's timestamp.
    pub(super) skip_prefix: bool,
    /// A fast search for the literals every match starts with, where the patterns have one.
    pub(super) literals: Option<Prefilter>,
    /// The catalog's patterns, and which of them [`Compiled::dfa`] holds cut.
    patterns: Vec<&'static str>,
    cut: Vec<bool>,
    /// Built on first use: the DFA of the patterns kept whole, the cut patterns whole, and every
    /// pattern on its own.
    whole: OnceLock<Option<DFA>>,
    cut_whole: OnceLock<Vec<meta::Regex>>,
    each: OnceLock<Vec<meta::Regex>>,
    capacity: usize,
}

impl Compiled {
    /// The automata of `patterns`; `split` cuts the `X.*Y` ones in the combined DFA, `capacity` is
    /// each DFA's cache (the tests give a small one to make a DFA give up).
    pub(super) fn new(patterns: Vec<&'static str>, split: bool, capacity: usize) -> Compiled {
        let cut: Vec<Option<String>> = patterns
            .iter()
            .map(|p| if split { cut_to_prefixes(p) } else { None })
            .collect();
        let combined: Vec<String> = patterns
            .iter()
            .zip(&cut)
            .map(|(p, c)| c.clone().unwrap_or_else(|| p.to_string()))
            .collect();
        let all = alternation(patterns.iter().copied());
        let literals = syntax::parse_with(&all, &syntax_config())
            .ok()
            .and_then(|hir| Prefilter::from_hir_prefix(MatchKind::LeftmostFirst, &hir))
            .filter(Prefilter::is_fast);
        Compiled {
            dfa: build_dfa(&combined, capacity),
            skip_prefix: patterns.iter().all(|p| cannot_start_in_a_timestamp(p)),
            literals,
            cut: cut.iter().map(Option::is_some).collect(),
            patterns,
            whole: OnceLock::new(),
            cut_whole: OnceLock::new(),
            each: OnceLock::new(),
            capacity,
        }
    }

    /// Whether [`Compiled::dfa`] flags more than the catalog matches.
    pub(super) fn has_cut(&self) -> bool {
        self.cut.iter().any(|&c| c)
    }

    /// Whether pattern `id` of [`Compiled::dfa`] is a cut one (a match of it needs a check).
    pub(super) fn is_cut(&self, id: usize) -> bool {
        self.cut.get(id).copied().unwrap_or(true)
    }

    /// The combined DFA of the patterns kept whole (none when every pattern was cut).
    pub(super) fn whole(&self) -> Option<&DFA> {
        self.whole
            .get_or_init(|| {
                let kept: Vec<&str> = self.kept(false);
                (!kept.is_empty()).then(|| build_dfa(&[alternation(kept)], self.capacity))
            })
            .as_ref()
    }

    /// The cut patterns, whole, each on its own.
    pub(super) fn cut_whole(&self) -> &[meta::Regex] {
        self.cut_whole
            .get_or_init(|| self.kept(true).into_iter().map(one).collect())
    }

    /// Every pattern on its own: the exact answer for any line, in time linear in it.
    pub(super) fn each(&self) -> &[meta::Regex] {
        self.each
            .get_or_init(|| self.patterns.iter().copied().map(one).collect())
    }

    fn kept(&self, cut: bool) -> Vec<&'static str> {
        self.patterns
            .iter()
            .zip(&self.cut)
            .filter(|(_, &c)| c == cut)
            .map(|(p, _)| *p)
            .collect()
    }
}

/// The automata of a role's catalog, built once.
pub(super) fn compiled(role: Role) -> &'static Compiled {
    static FE: OnceLock<Compiled> = OnceLock::new();
    static BE: OnceLock<Compiled> = OnceLock::new();
    let cell = match role {
        Role::Fe => &FE,
        Role::Be => &BE,
    };
    cell.get_or_init(|| Compiled::new(catalog(role), true, CACHE_CAPACITY))
}

/// The catalog's patterns of `role`.
pub(super) fn catalog(role: Role) -> Vec<&'static str> {
    CATALOG
        .iter()
        .filter(|s| s.role == role)
        .map(|s| s.pattern)
        .collect()
}

fn alternation<'a>(patterns: impl IntoIterator<Item = &'a str>) -> String {
    patterns
        .into_iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|")
}

/// One DFA of `patterns`, each its own pattern id, so that a match state says which matched.
fn build_dfa(patterns: &[String], capacity: usize) -> DFA {
    DFA::builder()
        .syntax(syntax_config())
        .thompson(thompson::Config::new().nfa_size_limit(Some(64 << 20)))
        .configure(
            DFA::config()
                .cache_capacity(capacity)
                .skip_cache_capacity_check(true)
                .minimum_cache_clear_count(Some(CLEAR_BUDGET))
                .minimum_bytes_per_state(Some(MIN_BYTES_PER_STATE)),
        )
        .build_many(patterns)
        .expect("combined catalog compiles")
}

/// One pattern, with the same syntax as the DFA (its own lazy DFA stays small; the meta engine
/// falls back to a linear one if even that gives up).
fn one(pattern: &str) -> meta::Regex {
    meta::Regex::builder()
        .syntax(syntax_config())
        .build(pattern)
        .expect("catalog pattern compiles")
}

/// The catalog's patterns match bytes, not only UTF-8, and `$` holds at each line end.
pub(super) fn syntax_config() -> syntax::Config {
    syntax::Config::new()
        .multi_line(true)
        .unicode(false)
        .utf8(false)
}

/// For a pattern holding `.*` or `.+` (a repetition of nearly any byte without end), the
/// alternation of the literals every match of it starts with; `None` for other patterns and where
/// those literals are not a short finite list. A line the pattern matches holds one of them, so
/// the cut pattern flags every line the whole one matches.
fn cut_to_prefixes(pattern: &str) -> Option<String> {
    let hir = syntax::parse_with(pattern, &syntax_config()).ok()?;
    if !has_dot_star(&hir) {
        return None;
    }
    let prefixes = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = prefixes.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().len() < 3) {
        return None;
    }
    let escaped: Vec<String> = literals
        .iter()
        .map(|l| l.as_bytes().iter().map(|b| format!(r"\x{b:02X}")).collect())
        .collect();
    Some(escaped.join("|"))
}

fn has_dot_star(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Repetition(r) => {
            (r.max.is_none() && matches_nearly_any_byte(&r.sub)) || has_dot_star(&r.sub)
        }
        HirKind::Capture(c) => has_dot_star(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(has_dot_star),
        _ => false,
    }
}

/// `.` (every byte but `\n`) or wider.
fn matches_nearly_any_byte(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Class(Class::Bytes(c)) => {
            c.ranges()
                .iter()
                .map(|r| usize::from(r.end() - r.start()) + 1)
                .sum::<usize>()
                >= 255
        }
        _ => false,
    }
}

/// Whether no match of `pattern` can begin inside a record's timestamp: every match begins with one
/// of finitely many literals, none of which starts with a byte a timestamp holds (digits and
/// `-: ,.`), nor with a glog level letter followed by a digit (or by nothing).
pub(super) fn cannot_start_in_a_timestamp(pattern: &str) -> bool {
    let Ok(hir) = syntax::parse_with(pattern, &syntax_config()) else {
        return false;
    };
    let prefixes = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let Some(literals) = prefixes.literals() else {
        return false;
    };
    literals.iter().all(|lit| match lit.as_bytes() {
        [] => false,
        [c, ..] if c.is_ascii_digit() || b"-: ,.".contains(c) => false,
        [b'I' | b'W' | b'E' | b'F', rest @ ..] => rest.first().is_some_and(|c| !c.is_ascii_digit()),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_dot_star_patterns_are_cut_and_to_their_prefixes() {
        assert_eq!(
            cut_to_prefixes(r"RollbackException.*must rollback \d+ total commits").as_deref(),
            Some(
                "RollbackException"
                    .bytes()
                    .map(|b| format!(r"\x{b:02X}"))
                    .collect::<String>()
                    .as_str()
            )
        );
        assert!(cut_to_prefixes(
            r"(token|cluster id) is not equal with helper node .*will exit|Unmatched run mode"
        )
        .is_some_and(|c| c.matches('|').count() == 2));
        assert_eq!(cut_to_prefixes(r"meta dir \S+ (dose|does) not exist"), None);
        assert_eq!(cut_to_prefixes(r"UNKNOWN Operation Type \d+"), None);
        let fe = compiled(Role::Fe);
        // Every FE pattern with a `.*` between literals is cut, and no other: the count follows
        // the catalog as signatures are added.
        let dot_star = CATALOG
            .iter()
            .filter(|sig| sig.role == Role::Fe && sig.pattern.contains(".*"))
            .count();
        assert!(dot_star >= 8, "the FE catalog's X.*Y patterns: {dot_star}");
        assert_eq!(
            fe.cut.iter().filter(|&&c| c).count(),
            dot_star,
            "the FE catalog's X.*Y patterns"
        );
        assert!(!compiled(Role::Be).has_cut());
    }

    #[test]
    fn only_the_be_catalog_has_a_literal_search() {
        // The FE's case-insensitive `will exit` has too many prefixes for a fast literal search.
        assert!(compiled(Role::Fe).literals.is_none());
        assert!(compiled(Role::Be).literals.is_some());
    }

    #[test]
    fn the_catalog_lets_the_search_skip_timestamps() {
        assert!(compiled(Role::Fe).skip_prefix);
        assert!(compiled(Role::Be).skip_prefix);
        assert!(!cannot_start_in_a_timestamp(r"\d+ rows"));
        assert!(!cannot_start_in_a_timestamp(r"E\d"));
        assert!(!cannot_start_in_a_timestamp(r"\S+ failed"));
        assert!(cannot_start_in_a_timestamp(r"Error \d"));
    }
}
