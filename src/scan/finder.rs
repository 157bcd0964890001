//! Which lines hold a catalog match: the combined catalog of a role as one lazy DFA, run line by
//! line.
//!
//! `scan` must look at every line anyway (it counts lines and records and assembles records), so
//! instead of searching the buffer with a regex and then finding the line of each hit, the reader
//! walks the lines once and runs the DFA over each line itself. That lets it start after a record's
//! timestamp (a fifth of an fe.log line), which no catalog pattern can begin in; that is checked
//! from the patterns when the DFA is built, and the timestamp is searched too where it cannot be
//! proven. Where the patterns share a fast literal search, the reader runs the DFA only on the lines
//! holding one of those literals. Whether a line matches is all that is asked: the `RegexSet` of the
//! catalog then decides which signatures a candidate record carries.

use std::sync::OnceLock;

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::nfa::thompson;
use regex_automata::util::prefilter::Prefilter;
use regex_automata::util::start;
use regex_automata::util::syntax;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

use crate::watch::catalog::{Role, CATALOG};

/// The combined catalog of one role, and whether a search may start after a record's timestamp.
struct Compiled {
    dfa: DFA,
    skip_prefix: bool,
    literals: Option<Prefilter>,
}

/// One file's search state: the shared DFA and this pass's cache of its states.
pub(super) struct Finder {
    dfa: &'static DFA,
    cache: Cache,
    /// Start states by the byte before the search (256: none), with the cache generation.
    starts: Box<[Option<(usize, LazyStateID)>; 257]>,
    /// Whether [`Finder::matches`] may be started after a record's timestamp.
    pub(super) skip_prefix: bool,
    /// A fast search for the literals every match starts with, where the patterns have one (the
    /// BE catalog does; the FE's, with its case-insensitive `will exit`, does not): a line none of
    /// them occurs in cannot match.
    pub(super) literals: Option<&'static Prefilter>,
}

impl Finder {
    pub(super) fn new(role: Role) -> Finder {
        let c = compiled(role);
        Finder {
            dfa: &c.dfa,
            cache: c.dfa.create_cache(),
            starts: Box::new([None; 257]),
            skip_prefix: c.skip_prefix,
            literals: c.literals.as_ref(),
        }
    }

    /// Whether a catalog pattern of the role matches in `hay[from..to]`, where `to` ends a line (or
    /// the part of a line that is kept). The byte before `from` is looked at as the regex would.
    /// A search the DFA gives up on counts as a match: the record is then classified, which
    /// decides.
    pub(super) fn matches(&mut self, hay: &[u8], from: usize, to: usize) -> bool {
        let look_behind = from.checked_sub(1).map(|i| hay[i]);
        let Some(mut sid) = self.start(look_behind) else {
            return true;
        };
        let line = &hay[..to];
        let mut at = from;
        while at < line.len() {
            if !sid.is_tagged() {
                let prev;
                (prev, sid, at) = untagged_run(self.dfa, &self.cache, sid, line, at);
                if sid.is_unknown() {
                    match self.dfa.next_state(&mut self.cache, prev, line[at - 1]) {
                        Ok(next) => sid = next,
                        Err(_) => return true,
                    }
                }
            } else if sid.is_match() || sid.is_quit() {
                return true;
            } else if sid.is_dead() {
                return false;
            } else {
                match self.dfa.next_state(&mut self.cache, sid, line[at]) {
                    Ok(next) => sid = next,
                    Err(_) => return true,
                }
                at += 1;
            }
        }
        // A lazy DFA reports a match one byte late; the end of the line is that byte for the last
        // one (`$` holds there as before a newline).
        sid.is_match()
            || sid.is_quit()
            || self
                .dfa
                .next_eoi_state(&mut self.cache, sid)
                .map_or(true, |s| s.is_match())
    }
}

/// The hot loop: follows known transitions from the untagged state `sid` at `line[at]` until a
/// tagged state (match, dead, not computed yet) or the end of the line. Returns the state before
/// the last step, the last state and where it stopped.
#[inline(always)]
fn untagged_run(
    dfa: &DFA,
    cache: &Cache,
    mut sid: LazyStateID,
    line: &[u8],
    mut at: usize,
) -> (LazyStateID, LazyStateID, usize) {
    debug_assert!(!sid.is_tagged());
    // SAFETY (every call below): `next_state_untagged_unchecked` needs an untagged state of this
    // DFA and cache. `sid` is untagged on entry, and each step is taken only from a state checked
    // to be untagged; all states come from `dfa` with `cache`, which nothing changes meanwhile.
    let step = |s: LazyStateID, b: u8| unsafe { dfa.next_state_untagged_unchecked(cache, s, b) };
    while at + 4 <= line.len() {
        let s1 = step(sid, line[at]);
        if s1.is_tagged() {
            return (sid, s1, at + 1);
        }
        let s2 = step(s1, line[at + 1]);
        if s2.is_tagged() {
            return (s1, s2, at + 2);
        }
        let s3 = step(s2, line[at + 2]);
        if s3.is_tagged() {
            return (s2, s3, at + 3);
        }
        let s4 = step(s3, line[at + 3]);
        if s4.is_tagged() {
            return (s3, s4, at + 4);
        }
        sid = s4;
        at += 4;
    }
    let mut prev = sid;
    while at < line.len() {
        prev = sid;
        sid = step(sid, line[at]);
        at += 1;
        if sid.is_tagged() {
            break;
        }
    }
    (prev, sid, at)
}

impl Finder {
    /// The start state after `look_behind`, remembered per byte until the cache is next cleared
    /// (every line asks for one of two or three).
    fn start(&mut self, look_behind: Option<u8>) -> Option<LazyStateID> {
        let slot = look_behind.map_or(256, usize::from);
        let generation = self.cache.clear_count();
        if let Some((g, sid)) = self.starts[slot] {
            if g == generation {
                return Some(sid);
            }
        }
        let config = start::Config::new()
            .anchored(Anchored::No)
            .look_behind(look_behind);
        let sid = self.dfa.start_state(&mut self.cache, &config).ok()?;
        self.starts[slot] = Some((self.cache.clear_count(), sid));
        Some(sid)
    }
}

fn compiled(role: Role) -> &'static Compiled {
    static FE: OnceLock<Compiled> = OnceLock::new();
    static BE: OnceLock<Compiled> = OnceLock::new();
    let cell = match role {
        Role::Fe => &FE,
        Role::Be => &BE,
    };
    cell.get_or_init(|| {
        let patterns: Vec<&str> = CATALOG
            .iter()
            .filter(|s| s.role == role)
            .map(|s| s.pattern)
            .collect();
        let alternatives: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
        let dfa = DFA::builder()
            .syntax(syntax_config())
            .thompson(thompson::Config::new().nfa_size_limit(Some(64 << 20)))
            // The lazy DFA of ~50 alternatives needs more states than the default cache holds;
            // a cache that is cleared over and over halves the throughput.
            .configure(DFA::config().cache_capacity(16 << 20))
            .build(&alternatives.join("|"))
            .expect("combined catalog compiles");
        let literals = syntax::parse_with(&alternatives.join("|"), &syntax_config())
            .ok()
            .and_then(|hir| Prefilter::from_hir_prefix(MatchKind::LeftmostFirst, &hir))
            .filter(Prefilter::is_fast);
        Compiled {
            dfa,
            skip_prefix: patterns.iter().all(|p| cannot_start_in_a_timestamp(p)),
            literals,
        }
    })
}

/// The catalog's patterns match bytes, not only UTF-8, and `$` holds at each line end.
fn syntax_config() -> syntax::Config {
    syntax::Config::new()
        .multi_line(true)
        .unicode(false)
        .utf8(false)
}

/// Whether no match of `pattern` can begin inside a record's timestamp: every match begins with one
/// of finitely many literals, none of which starts with a byte a timestamp holds (digits and
/// `-: ,.`), nor with a glog level letter followed by a digit (or by nothing).
fn cannot_start_in_a_timestamp(pattern: &str) -> bool {
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

    fn line_matches(role: Role, line: &str, from: usize) -> bool {
        let hay = format!("{line}\n");
        Finder::new(role).matches(hay.as_bytes(), from, line.len())
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

    #[test]
    fn every_example_is_found_in_its_line_and_a_plain_line_is_not() {
        for sig in CATALOG {
            let line = format!(
                "2024-01-01 00:00:00,000 ERROR (main|1) [A.b():1] {}",
                sig.example
            );
            assert!(line_matches(sig.role, &line, 23), "{}", sig.id);
            assert!(line_matches(sig.role, sig.example, 0), "{}", sig.id);
        }
        let plain = "2024-01-01 00:00:00,000 INFO (main|1) [A.b():1] tablet 1 is healthy";
        assert!(!line_matches(Role::Fe, plain, 23));
        assert!(!line_matches(Role::Fe, plain, 0));
    }

    #[test]
    fn a_line_end_is_where_dollar_holds() {
        // `will exit` counts only at the end of a line, which is where this search stops.
        assert!(line_matches(Role::Fe, "x. will exit", 0));
        assert!(line_matches(Role::Fe, "x. will exit  ", 0));
        assert!(!line_matches(Role::Fe, "x. will exit later", 0));
    }
}
