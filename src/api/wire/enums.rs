//! The typed enums of the API's answers, serialised as the lowercase names the API has always used.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares an enum with its wire names, `as_str` and `Display`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$variant_doc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// A span's kind (OTLP `SpanKind`).
    SpanKind {
        Unspecified = "unspecified",
        Internal = "internal",
        Server = "server",
        Client = "client",
        Producer = "producer",
        Consumer = "consumer",
    }
);

impl SpanKind {
    /// From the OTLP enum's number; unknown numbers are `unspecified`.
    pub fn from_otlp(kind: i32) -> SpanKind {
        match kind {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }
}

wire_enum!(
    /// A span's status code (OTLP `Status.StatusCode`).
    StatusCode {
        Unset = "unset",
        Ok = "ok",
        Error = "error",
    }
);

impl StatusCode {
    pub fn from_otlp(code: i32) -> StatusCode {
        match code {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }
}

wire_enum!(
    /// A metric's data type.
    MetricType {
        Gauge = "gauge",
        Sum = "sum",
        Histogram = "histogram",
        ExponentialHistogram = "exponential_histogram",
        Summary = "summary",
        Unknown = "unknown",
    }
);

impl MetricType {
    /// Whether its points are distributions (charted as quantiles).
    pub fn is_distribution(self) -> bool {
        matches!(self, MetricType::Histogram | MetricType::ExponentialHistogram | MetricType::Summary)
    }
}

wire_enum!(
    /// How much a lint finding matters: `error` fails `otelbox lint`, `warning` only with `--strict`.
    LintSeverity {
        Error = "error",
        Warning = "warning",
    }
);

wire_enum!(
    /// Which of a service's spans its request figures (`requests`, `errors`, `rate_per_s`,
    /// `error_pct`, percentiles) are taken from. The default, for answers without the field, is
    /// what they were before it: all spans.
    #[derive(Default)]
    StatsBasis {
        /// Its entry spans, kinds `server` and `consumer`: the requests and messages it handles.
        Entry = "entry",
        /// It has no entry spans in the window: its root spans, of any kind.
        Root = "root",
        /// Neither entry nor root spans: all its spans.
        #[default]
        All = "all",
    }
);

wire_enum!(
    /// How a dependency edge's error rate reads against the answer's `thresholds`: `ok` below
    /// `warn_pct`, `warn` below `error_pct`, `error` from it up.
    #[derive(Default)]
    EdgeSeverity {
        #[default]
        Ok = "ok",
        Warn = "warn",
        Error = "error",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_keep_their_wire_names() {
        assert_eq!(serde_json::to_string(&SpanKind::Server).unwrap(), "\"server\"");
        assert_eq!(serde_json::from_str::<StatusCode>("\"error\"").unwrap(), StatusCode::Error);
        assert_eq!(
            serde_json::to_string(&MetricType::ExponentialHistogram).unwrap(),
            "\"exponential_histogram\""
        );
        assert_eq!(LintSeverity::Warning.to_string(), "warning");
        assert_eq!(SpanKind::from_otlp(3), SpanKind::Client);
        assert_eq!(StatusCode::from_otlp(9), StatusCode::Unset);
        assert_eq!(serde_json::to_string(&StatsBasis::Entry).unwrap(), "\"entry\"");
        assert_eq!(serde_json::from_str::<EdgeSeverity>("\"warn\"").unwrap(), EdgeSeverity::Warn);
    }
}
