//! JUnit XML: one test suite per run, one test case per step, failures carrying the signature.
//!
//! CI reads this file to colour a pipeline, so two rules hold whatever the run did: a run that did
//! not pass always carries a `<failure>` or `<error>` (a run interrupted between steps has no
//! failed step of its own, so a `verdict` case carries it), and the text holds only characters XML
//! 1.0 allows (fe.out has ANSI colour codes, which would make the whole file unparsable).

use super::{Report, StepStatus, Verdict};

/// `s` without ANSI escape sequences and without the characters XML 1.0 forbids.
fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI (`ESC [ ... final byte`): drop the whole sequence; other escapes: drop the
            // escape and the one character after it.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
            continue;
        }
        let allowed = matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{d7ff}').contains(&c)
            || ('\u{e000}'..='\u{fffd}').contains(&c)
            || c >= '\u{10000}';
        if allowed {
            out.push(c);
        }
    }
    out
}

/// Escaped for element text.
fn esc(s: &str) -> String {
    xml_text(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escaped for an attribute value: line breaks kept as references, since a parser folds raw ones.
fn esc_attr(s: &str) -> String {
    esc(s)
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

/// `sr-rehearse.fe 3.3.5-553732d <- /data/meta`: the command, what it rehearsed (the version the
/// package reported, else the package) and on what (the meta dir, the BE home).
fn classname(r: &Report) -> String {
    let target = r
        .target
        .detected_version
        .clone()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| r.target.package.clone());
    let mut c = format!("sr-rehearse.{}", r.command);
    if !target.is_empty() {
        c.push_str(&format!(" {target}"));
    }
    if !r.source.meta.is_empty() {
        c.push_str(&format!(" <- {}", r.source.meta));
    }
    c
}

/// The report's log tails as `tail -n` prints several files: a `==> file <==` line before each.
fn log_tail(r: &Report) -> String {
    r.log_tail
        .iter()
        .map(|t| format!("==> {} <==\n{}\n", t.file, t.lines.join("\n")))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn render(r: &Report) -> String {
    let failed_steps = r
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .count();
    // A run that did not pass and has no failed step gets a `verdict` case carrying why.
    let verdict_case = r.verdict != Verdict::Pass && failed_steps == 0;
    let is_error = matches!(
        r.verdict,
        Verdict::Error | Verdict::Timeout | Verdict::Interrupted
    );
    // The tool could not judge the release (bad input, the environment, a timeout, a signal): an
    // `<error>`, which CI shows apart from a release that failed (`<failure>`).
    let tag = if is_error { "error" } else { "failure" };
    let not_passed = if verdict_case { 1 } else { failed_steps };
    let (failures, errors) = if is_error {
        (0, not_passed)
    } else {
        (not_passed, 0)
    };
    let tests = r.steps.len() + usize::from(verdict_case);
    let skipped = r
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Skipped)
        .count();
    let time = r.duration_ms as f64 / 1000.0;
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"sr-rehearse\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">\n",
    ));
    x.push_str(&format!(
        "  <testsuite name=\"sr-rehearse {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" timestamp=\"{}\" time=\"{time:.3}\">\n",
        esc_attr(&r.command),
        esc_attr(&r.started_at),
    ));
    let excerpt: String = r
        .signatures
        .iter()
        .filter(|h| h.severity == crate::watch::catalog::Severity::Fatal)
        .map(|h| {
            format!(
                "{} at {}:{}: {}\n{}\n",
                h.id, h.file, h.line, h.text, h.hint
            )
        })
        .collect();
    let body = esc(&format!("{}\n{excerpt}", r.summary));
    // CI systems merge test cases by classname and name: a job's rehearsals of two targets, or
    // the canaries of six BEs, must not become one set of rows.
    let classname = classname(r);
    let case = |name: &str, secs: f64| {
        format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{secs:.3}\"",
            esc_attr(&classname),
            esc_attr(name),
        )
    };
    // The logs' last lines go with the case that did not pass, where CI shows a case's output
    // beside its failure; a run that passed carries them on the suite.
    let tail = log_tail(r);
    let out_of_case = if tail.is_empty() {
        String::new()
    } else {
        format!("\n      <system-out>{}</system-out>", esc(&tail))
    };
    let mut tail_placed = false;
    for st in &r.steps {
        x.push_str(&case(&st.name, st.duration_ms as f64 / 1000.0));
        match st.status {
            StepStatus::Ok => x.push_str("/>\n"),
            StepStatus::Skipped => x.push_str(">\n      <skipped/>\n    </testcase>\n"),
            StepStatus::Failed => {
                let out = if tail_placed {
                    ""
                } else {
                    out_of_case.as_str()
                };
                tail_placed = true;
                x.push_str(&format!(
                    ">\n      <{tag} message=\"{}\" type=\"{:?}\">{body}</{tag}>{out}\n    </testcase>\n",
                    esc_attr(&st.detail),
                    r.verdict,
                ));
            }
        }
    }
    if verdict_case {
        let out = if tail_placed {
            ""
        } else {
            out_of_case.as_str()
        };
        tail_placed = true;
        x.push_str(&case("verdict", 0.0));
        x.push_str(&format!(
            ">\n      <{tag} message=\"{}\" type=\"{:?}\">{body}</{tag}>{out}\n    </testcase>\n",
            esc_attr(&format!("exit {}: {}", r.exit_code, r.summary)),
            r.verdict,
        ));
    }
    if !tail_placed && !tail.is_empty() {
        x.push_str(&format!("    <system-out>{}</system-out>\n", esc(&tail)));
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{exit, SignatureHit, Step};
    use crate::watch::catalog::Severity;

    /// Parses `xml` with a real XML parser and checks the JUnit shape CI consumers rely on:
    /// the counts match the cases, and a run that did not pass carries a failure or an error.
    pub(crate) fn check_junit(xml: &str, passed: bool) {
        let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        assert_eq!(suites.len(), 1);
        let suite = suites[0];
        assert_eq!(suite.tag_name().name(), "testsuite");
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() != "system-out")
            .collect();
        assert!(cases.iter().all(|c| c.tag_name().name() == "testcase"));
        let count = |tag: &str| {
            cases
                .iter()
                .filter(|c| c.children().any(|k| k.tag_name().name() == tag))
                .count()
        };
        let attr = |n: &str| suite.attribute(n).unwrap().parse::<usize>().unwrap();
        assert_eq!(attr("tests"), cases.len());
        assert_eq!(attr("failures"), count("failure"));
        assert_eq!(attr("errors"), count("error"));
        assert_eq!(attr("skipped"), count("skipped"));
        for c in &cases {
            assert!(c.attribute("name").is_some() && c.attribute("classname").is_some());
            assert!(c.attribute("time").unwrap().parse::<f64>().is_ok());
        }
        assert_eq!(passed, count("failure") + count("error") == 0, "{xml}");
    }

    fn report(verdict: Verdict, code: i32, failed_step: bool) -> Report {
        let mut r = Report::new("fe");
        r.verdict = verdict;
        r.exit_code = code;
        r.summary = "the \u{1b}[31mred\u{1b}[0m summary \u{0}\u{7} <&>".into();
        r.steps.push(Step {
            name: "preflight".into(),
            status: StepStatus::Ok,
            duration_ms: 3,
            detail: String::new(),
        });
        if failed_step {
            r.steps.push(Step {
                name: "decide".into(),
                status: StepStatus::Failed,
                duration_ms: 5,
                detail: "fe.out: \u{1b}[1;31mException\u{1b}[0m\u{b}".into(),
            });
        }
        r.signatures.push(SignatureHit {
            id: "fe.x".into(),
            severity: Severity::Fatal,
            file: "fe.out".into(),
            line: 1,
            text: "\u{1b}[33mwarn\u{1b}[0m \u{fffe}".into(),
            hint: "h".into(),
        });
        r
    }

    #[test]
    fn every_ending_that_is_not_a_pass_carries_a_failure_or_an_error() {
        let cases = [
            (Verdict::Pass, exit::PASS, false, true),
            (Verdict::Fail, exit::FAIL, true, false),
            (Verdict::Error, exit::ENVIRONMENT, false, false),
            (Verdict::Timeout, exit::TIMEOUT, false, false),
            (Verdict::Interrupted, exit::INTERRUPTED, false, false),
            (Verdict::Interrupted, exit::TERMINATED, false, false),
            (Verdict::Fail, exit::ROLLBACK_FAILED, false, false),
            (Verdict::Error, exit::ENVIRONMENT, true, false),
        ];
        for (verdict, code, failed_step, passed) in cases {
            let xml = render(&report(verdict, code, failed_step));
            check_junit(&xml, passed);
        }
    }

    #[test]
    fn ansi_codes_and_forbidden_characters_are_stripped() {
        let xml = render(&report(Verdict::Fail, exit::FAIL, true));
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(failure.attribute("message"), Some("fe.out: Exception"));
        let text = failure.text().unwrap();
        assert!(text.contains("the red summary  <&>"), "{text}");
        assert!(text.contains("warn "), "{text}");
        assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}'));
    }

    #[test]
    fn a_run_the_tool_could_not_judge_is_an_error_and_a_failed_release_a_failure() {
        for (verdict, code, tag) in [
            (Verdict::Fail, exit::FAIL, "failure"),
            (Verdict::Error, exit::BAD_INPUT, "error"),
            (Verdict::Error, exit::ENVIRONMENT, "error"),
            (Verdict::Timeout, exit::TIMEOUT, "error"),
            (Verdict::Interrupted, exit::TERMINATED, "error"),
        ] {
            let xml = render(&report(verdict, code, true));
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let decide = doc
                .descendants()
                .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("decide"))
                .unwrap();
            assert!(
                decide.children().any(|k| k.has_tag_name(tag)),
                "exit {code}: the failed step carries <{tag}>: {xml}"
            );
            check_junit(&xml, false);
        }
    }

    #[test]
    fn cases_of_two_targets_or_two_nodes_have_their_own_classname() {
        let mut a = report(Verdict::Pass, exit::PASS, false);
        a.source.meta = "/data/meta".into();
        a.target.detected_version = Some("3.3.5-553732d".into());
        let mut b = a.clone();
        b.target.detected_version = Some("3.4.2-1c2d3e4".into());
        let class = |r: &Report| {
            let xml = render(r);
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let c = doc
                .descendants()
                .find(|n| n.has_tag_name("testcase"))
                .unwrap()
                .attribute("classname")
                .unwrap()
                .to_string();
            c
        };
        assert_eq!(class(&a), "sr-rehearse.fe 3.3.5-553732d <- /data/meta");
        assert_ne!(class(&a), class(&b));
        let mut node2 = a.clone();
        node2.source.meta = "/data2/meta".into();
        assert_ne!(class(&a), class(&node2));
    }

    #[test]
    fn xml_text_keeps_what_xml_allows() {
        assert_eq!(xml_text("a\tb\nc\r"), "a\tb\nc\r");
        assert_eq!(xml_text("\u{1b}[0;32mok\u{1b}[m"), "ok");
        assert_eq!(xml_text("x\u{1f}y\u{ffff}z\u{10000}"), "xyz\u{10000}");
    }

    #[test]
    fn the_log_tail_goes_with_the_failing_case_or_on_the_suite() {
        let tail = |r: &mut Report| {
            r.log_tail.push(crate::report::LogTail {
                file: "/ws/fe/log/fe.out".into(),
                lines: vec![
                    "java.lang.Exception: <boom> \u{1b}[31m".into(),
                    "last".into(),
                ],
            })
        };
        let mut r = report(Verdict::Fail, exit::FAIL, true);
        tail(&mut r);
        let x = render(&r);
        check_junit(&x, false);
        let doc = roxmltree::Document::parse(&x).unwrap();
        let out = doc
            .descendants()
            .find(|n| n.has_tag_name("system-out"))
            .unwrap();
        assert_eq!(out.parent().unwrap().attribute("name"), Some("decide"));
        assert_eq!(
            out.text().unwrap(),
            "==> /ws/fe/log/fe.out <==\njava.lang.Exception: <boom> \nlast\n"
        );
        let mut r = report(Verdict::Pass, exit::PASS, false);
        tail(&mut r);
        let x = render(&r);
        check_junit(&x, true);
        let doc = roxmltree::Document::parse(&x).unwrap();
        let out = doc
            .descendants()
            .find(|n| n.has_tag_name("system-out"))
            .unwrap();
        assert!(out.parent().unwrap().has_tag_name("testsuite"));
    }
}
