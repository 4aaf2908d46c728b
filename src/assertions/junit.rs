//! JUnit XML reports of assertion outcomes (one testsuite, one testcase per assertion).

use super::eval::Outcome;
use std::fmt::Write;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even when escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

pub fn render(suite: &str, outcomes: &[Outcome]) -> String {
    render_suites(&[(suite.to_string(), outcomes.to_vec())])
}

/// One testsuite per (name, outcomes): `otelbox run --per-test` writes one per test.
pub fn render_suites(suites: &[(String, Vec<Outcome>)]) -> String {
    let all = suites.iter().flat_map(|(_, outcomes)| outcomes);
    let (tests, failures) = (all.clone().count(), all.clone().filter(|o| !o.passed).count());
    let time: f64 = all.map(|o| o.elapsed.as_secs_f64()).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"otelbox\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">"
    );
    for (suite, outcomes) in suites {
        let failures = outcomes.iter().filter(|o| !o.passed).count();
        let time: f64 = outcomes.iter().map(|o| o.elapsed.as_secs_f64()).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\">",
            escape(suite),
            outcomes.len()
        );
        for o in outcomes {
            let _ = write!(
                xml,
                "    <testcase classname=\"otelbox.{}\" name=\"{}\" time=\"{:.3}\"",
                escape(suite),
                escape(&o.name),
                o.elapsed.as_secs_f64()
            );
            if o.passed {
                let _ = writeln!(xml, "/>");
            } else {
                let first_line = o.detail.lines().next().unwrap_or_default();
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\" type=\"AssertionFailed\">{}</failure>\n    </testcase>",
                    escape(first_line),
                    escape(&o.detail)
                );
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_and_escapes() {
        let outcomes = vec![
            Outcome {
                name: "a <ok>".into(),
                passed: true,
                detail: "fine".into(),
                elapsed: Duration::from_millis(5),
            },
            Outcome {
                name: "b".into(),
                passed: false,
                detail: "expected \"x\" & y\nnear misses".into(),
                elapsed: Duration::from_millis(7),
            },
        ];
        let xml = render("run", &outcomes);
        assert!(xml.contains("tests=\"2\" failures=\"1\""));
        assert!(xml.contains("name=\"a &lt;ok&gt;\""));
        assert!(xml.contains("message=\"expected &quot;x&quot; &amp; y\""));
        assert_eq!(xml.matches("<testcase").count(), 2);
        // One suite: the same document as a single-suite list.
        assert_eq!(xml, render_suites(&[("run".to_string(), outcomes.clone())]));
    }

    #[test]
    fn a_suite_per_test() {
        let case = |name: &str, passed: bool| Outcome {
            name: name.into(),
            passed,
            detail: "d".into(),
            elapsed: Duration::from_millis(1),
        };
        let xml = render_suites(&[
            ("t.py::test_ok".into(), vec![case("t.py::test_ok :: no errors", true)]),
            ("t.py::test_bad".into(), vec![case("t.py::test_bad :: no errors", false)]),
        ]);
        assert!(xml.contains("<testsuites name=\"otelbox\" tests=\"2\" failures=\"1\""), "{xml}");
        assert_eq!(xml.matches("<testsuite ").count(), 2);
        assert!(
            xml.contains("<testsuite name=\"t.py::test_bad\" tests=\"1\" failures=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("classname=\"otelbox.t.py::test_ok\" name=\"t.py::test_ok :: no errors\""),
            "{xml}"
        );
    }
}
