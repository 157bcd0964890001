//! JUnit XML: one test suite per run, one test case per step, failures carrying the signature.

use super::{Report, StepStatus};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(r: &Report) -> String {
    let failures = r
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .count();
    let skipped = r
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Skipped)
        .count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"sr-rehearse\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        r.steps.len(),
        r.duration_ms as f64 / 1000.0
    ));
    x.push_str(&format!(
        "  <testsuite name=\"sr-rehearse {}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" timestamp=\"{}\" time=\"{:.3}\">\n",
        esc(&r.command),
        r.steps.len(),
        esc(&r.started_at),
        r.duration_ms as f64 / 1000.0
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
    for st in &r.steps {
        x.push_str(&format!(
            "    <testcase classname=\"sr-rehearse.{}\" name=\"{}\" time=\"{:.3}\"",
            esc(&r.command),
            esc(&st.name),
            st.duration_ms as f64 / 1000.0
        ));
        match st.status {
            StepStatus::Ok => x.push_str("/>\n"),
            StepStatus::Skipped => x.push_str(">\n      <skipped/>\n    </testcase>\n"),
            StepStatus::Failed => {
                x.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"{:?}\">{}</failure>\n    </testcase>\n",
                    esc(&st.detail),
                    r.verdict,
                    esc(&format!("{}\n{excerpt}", r.summary))
                ));
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}
