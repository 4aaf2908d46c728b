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
    let failures = outcomes.iter().filter(|o| !o.passed).count();
    let time: f64 = outcomes.iter().map(|o| o.elapsed.as_secs_f64()).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"otelbox\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">",
        outcomes.len()
    );
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
    xml.push_str("  </testsuite>\n</testsuites>\n");
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
    }
}
