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
//!
//! The combined DFA holds the `X.*Y` patterns cut to their prefixes (see [`super::automata`]), so
//! a line it flags is checked exactly before it counts; a DFA that gives up (its cache cleared past
//! the budget) hands the line, and the next ones for a while, to every pattern on its own.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::util::prefilter::Prefilter;
use regex_automata::util::start;
use regex_automata::{Anchored, Input};

use super::automata::{compiled, Compiled};
use crate::watch::catalog::Role;

/// Bytes the exact matcher takes over after a DFA gave up, at first; doubled at each give-up, so
/// a DFA that keeps giving up costs a bounded share of the time, and a DFA that gave up on one bad
/// stretch gets the lines after it again.
const FIRST_COOLDOWN: usize = 1 << 20;
const MAX_COOLDOWN: usize = 1 << 30;

/// What the matcher did, for the tests: how often a DFA gave up, and the lines the exact matcher
/// checked after that.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stats {
    pub(super) gave_up: usize,
    pub(super) fallback_lines: usize,
}

/// One DFA with this pass's cache of its states.
struct Engine {
    dfa: &'static DFA,
    cache: Cache,
    /// Start states by the byte before the search (256: none), with the cache generation.
    starts: Box<[Option<(usize, LazyStateID)>; 257]>,
}

/// One file's search state: the role's automata and this pass's caches of them.
pub(super) struct Finder {
    automata: &'static Compiled,
    dfa: Engine,
    /// The DFA of the patterns kept whole, once a line needed it.
    whole: Option<Engine>,
    /// Bytes the exact matcher still takes after a DFA gave up, and the next such stretch.
    fallback_left: usize,
    cooldown: usize,
    pub(super) stats: Stats,
    /// Whether [`Finder::matches`] may be started after a record's timestamp.
    pub(super) skip_prefix: bool,
    /// A fast search for the literals every match starts with, where the patterns have one (the
    /// BE catalog does; the FE's, with its case-insensitive `will exit`, does not): a line none of
    /// them occurs in cannot match.
    pub(super) literals: Option<&'static Prefilter>,
}

impl Finder {
    pub(super) fn new(role: Role) -> Finder {
        Finder::with(compiled(role))
    }

    fn with(c: &'static Compiled) -> Finder {
        Finder {
            automata: c,
            dfa: Engine::new(&c.dfa),
            whole: None,
            fallback_left: 0,
            cooldown: FIRST_COOLDOWN,
            stats: Stats::default(),
            skip_prefix: c.skip_prefix,
            literals: c.literals.as_ref(),
        }
    }

    /// Whether a catalog pattern of the role matches in `hay[from..to]`, where `to` ends a line (or
    /// the part of a line that is kept). The byte before `from` is looked at as the regex would.
    pub(super) fn matches(&mut self, hay: &[u8], from: usize, to: usize) -> bool {
        if self.fallback_left > 0 {
            self.stats.fallback_lines += 1;
            self.fallback_left = self.fallback_left.saturating_sub(to - from + 1);
            if self.fallback_left == 0 {
                // Back to the DFAs, with fresh caches.
                self.dfa.reset();
                if let Some(w) = &mut self.whole {
                    w.reset();
                }
            }
            return self.exact(hay, from, to);
        }
        match self.dfa.find(hay, from, to) {
            Some(None) => false,
            Some(Some(_)) if !self.automata.has_cut() => true,
            // A match state names its patterns: one kept whole is a match.
            Some(Some(sid)) if self.dfa.names_one(sid, |id| !self.automata.is_cut(id)) => true,
            Some(Some(_)) => self.check_flagged(hay, from, to),
            None => self.give_up(hay, from, to),
        }
    }

    /// A line the combined DFA flagged, where it holds cut patterns: does one of the patterns kept
    /// whole match (most flagged lines of a real log are such matches, and that DFA stops at the
    /// match), or a cut pattern whole?
    fn check_flagged(&mut self, hay: &[u8], from: usize, to: usize) -> bool {
        if let Some(dfa) = self.automata.whole() {
            let whole = self.whole.get_or_insert_with(|| Engine::new(dfa));
            match whole.matches(hay, from, to) {
                Some(true) => return true,
                Some(false) => {}
                None => return self.give_up(hay, from, to),
            }
        }
        let input = line_input(hay, from, to);
        self.automata
            .cut_whole()
            .iter()
            .any(|re| re.is_match(input.clone()))
    }

    /// A DFA gave up on this line: the exact matcher takes it and the next `cooldown` bytes.
    fn give_up(&mut self, hay: &[u8], from: usize, to: usize) -> bool {
        self.stats.gave_up += 1;
        self.fallback_left = self.cooldown;
        self.cooldown = (self.cooldown * 2).min(MAX_COOLDOWN);
        self.exact(hay, from, to)
    }

    /// Every pattern on its own: slower than the DFA on a plain line, linear on any line.
    fn exact(&self, hay: &[u8], from: usize, to: usize) -> bool {
        let input = line_input(hay, from, to);
        self.automata
            .each()
            .iter()
            .any(|re| re.is_match(input.clone()))
    }
}

/// `hay[from..to]` as a search of a single line: the byte before `from` is seen by look-behind,
/// and `to` is the end (where `$` holds, as before the newline).
fn line_input(hay: &[u8], from: usize, to: usize) -> Input<'_> {
    Input::new(&hay[..to]).span(from..to)
}

impl Engine {
    fn new(dfa: &'static DFA) -> Engine {
        Engine {
            dfa,
            cache: dfa.create_cache(),
            starts: Box::new([None; 257]),
        }
    }

    /// A fresh cache: no state kept, the clear count back to 0.
    fn reset(&mut self) {
        self.cache.reset(self.dfa);
        *self.starts = [None; 257];
    }

    /// Whether the DFA matches in `hay[from..to]`; `None` when it gave up.
    fn matches(&mut self, hay: &[u8], from: usize, to: usize) -> Option<bool> {
        self.find(hay, from, to).map(|m| m.is_some())
    }

    /// The first match state the DFA reaches in `hay[from..to]` (`Some(None)`: no match; `None`:
    /// it gave up). The bytes searched are counted, since the DFA's give-up rule weighs them
    /// against the states it built.
    fn find(&mut self, hay: &[u8], from: usize, to: usize) -> Option<Option<LazyStateID>> {
        self.cache.search_start(from);
        let found = self.walk(hay, from, to);
        self.cache.search_finish(to);
        found
    }

    /// Whether the match state `sid` (just returned by [`Engine::find`]) names a pattern `pick`
    /// accepts; a quit state names none.
    fn names_one(&self, sid: LazyStateID, pick: impl Fn(usize) -> bool) -> bool {
        sid.is_match()
            && (0..self.dfa.match_len(&self.cache, sid))
                .any(|i| pick(self.dfa.match_pattern(&self.cache, sid, i).as_usize()))
    }

    fn walk(&mut self, hay: &[u8], from: usize, to: usize) -> Option<Option<LazyStateID>> {
        let look_behind = from.checked_sub(1).map(|i| hay[i]);
        let mut sid = self.start(look_behind)?;
        let line = &hay[..to];
        let mut at = from;
        while at < line.len() {
            if !sid.is_tagged() {
                let prev;
                (prev, sid, at) = untagged_run(self.dfa, &self.cache, sid, line, at);
                if sid.is_unknown() {
                    sid = self
                        .dfa
                        .next_state(&mut self.cache, prev, line[at - 1])
                        .ok()?;
                }
            } else if sid.is_match() || sid.is_quit() {
                return Some(Some(sid));
            } else if sid.is_dead() {
                return Some(None);
            } else {
                sid = self.dfa.next_state(&mut self.cache, sid, line[at]).ok()?;
                at += 1;
            }
        }
        // A lazy DFA reports a match one byte late; the end of the line is that byte for the last
        // one (`$` holds there as before a newline).
        if sid.is_match() || sid.is_quit() {
            return Some(Some(sid));
        }
        let eoi = self.dfa.next_eoi_state(&mut self.cache, sid).ok()?;
        Some(eoi.is_match().then_some(eoi))
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

impl Engine {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::automata::{catalog, CACHE_CAPACITY};
    use crate::watch::catalog::CATALOG;

    fn line_matches(role: Role, line: &str, from: usize) -> bool {
        let hay = format!("{line}\n");
        Finder::new(role).matches(hay.as_bytes(), from, line.len())
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

    /// fe.log lines packed with the beginnings of the catalog's `X.*Y` patterns, as a hostile or
    /// unlucky log holds them; every `every`-th line also ends with one pattern's `Y`, so it
    /// matches.
    fn hostile_log(lines: usize, every: usize) -> (Vec<u8>, Vec<(usize, usize)>) {
        const FRAGMENTS: &[&str] = &[
            "RollbackException",
            "EnvironmentFailureException",
            "UnknownMasterException",
            "DatabaseNotFoundException",
            "are both present. Please make sure",
            "is not equal with helper node",
            "Free capacity left for meta dir: ",
            "Invalid run_mode \"",
            "token",
            "Environment",
            "must",
        ];
        const TAILS: &[&str] = &[
            " must rollback 3 total commits",
            " Environment invalid",
            " Could not determine master from helpers",
            " _jeRepGroupDB",
        ];
        let (mut hay, mut spans) = (Vec::new(), Vec::new());
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for i in 0..lines {
            let start = hay.len();
            hay.extend_from_slice(b"2024-01-01 00:00:00,000 WARN (main|1) [A.b():1] ");
            for _ in 0..40 {
                hay.extend_from_slice(FRAGMENTS[next(FRAGMENTS.len())].as_bytes());
                hay.push(b' ');
            }
            if every > 0 && i % every == 0 {
                hay.extend_from_slice(TAILS[next(TAILS.len())].as_bytes());
            }
            spans.push((start, hay.len()));
            hay.push(b'\n');
        }
        (hay, spans)
    }

    /// The answer of every pattern on its own, which the finder must give whatever it runs.
    fn exact(finder: &Finder, hay: &[u8], spans: &[(usize, usize)]) -> Vec<bool> {
        spans
            .iter()
            .map(|&(s, e)| finder.exact(hay, s + 23, e))
            .collect()
    }

    #[test]
    fn hostile_lines_build_few_states_and_get_the_exact_answer() {
        // Before the dot-star patterns were cut, these lines filled the 16 MiB cache and cleared
        // it again every few hundred lines (the scan ran at about 2 MB/s).
        let (hay, spans) = hostile_log(3000, 7);
        let mut f = Finder::new(Role::Fe);
        let got: Vec<bool> = spans
            .iter()
            .map(|&(s, e)| f.matches(&hay, s + 23, e))
            .collect();
        assert_eq!(got, exact(&f, &hay, &spans));
        assert!(got.iter().any(|&m| m) && got.iter().any(|&m| !m));
        assert_eq!(
            f.dfa.cache.clear_count(),
            0,
            "the combined DFA's cache was never cleared"
        );
        let whole = f.whole.as_ref().expect("flagged lines were checked");
        assert_eq!(whole.cache.clear_count(), 0);
        let used = f.dfa.cache.memory_usage() + whole.cache.memory_usage();
        assert!(used < CACHE_CAPACITY / 8, "{used} bytes of states");
        assert_eq!(f.stats, Stats::default(), "no DFA gave up");
    }

    #[test]
    fn a_dfa_that_gives_up_hands_the_lines_to_the_exact_matcher() {
        // The whole catalog in one DFA with the smallest cache: it thrashes on these lines, gives
        // up within its clear budget, and the answers stay exact.
        let c: &'static Compiled = Box::leak(Box::new(Compiled::new(catalog(Role::Fe), false, 0)));
        let mut f = Finder::with(c);
        let (hay, spans) = hostile_log(400, 5);
        let got: Vec<bool> = spans
            .iter()
            .map(|&(s, e)| f.matches(&hay, s + 23, e))
            .collect();
        assert_eq!(got, exact(&f, &hay, &spans));
        assert_eq!(
            f.stats.gave_up, 1,
            "one give-up, then the exact matcher for a while"
        );
        assert!(f.stats.fallback_lines > 0);
        assert!(
            f.dfa.cache.clear_count() <= 3,
            "the budget bounds the clears"
        );
        // After the cool-down the DFA runs again, on a fresh cache.
        f.fallback_left = 1;
        let plain = b"2024-01-01 00:00:00,000 INFO (main|1) [A.b():1] tablet 1 is healthy\n";
        assert!(!f.matches(plain, 23, plain.len() - 1));
        assert!(!f.matches(plain, 23, plain.len() - 1));
        assert_eq!((f.fallback_left, f.dfa.cache.clear_count()), (0, 0));
    }
}
