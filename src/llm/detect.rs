//! Deterministic flags on an agent run, from the order of its model and tool calls alone (no LLM judge):
//! the same tool called again and again with the same arguments, a storm of failed retries, and loops
//! (a sequence of tool calls repeating). Thresholds are fixed so the same run is always flagged the same.

/// One model or tool call of a run, in start order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    /// The tool's name, or the model's.
    pub target: String,
    /// A hash of a tool call's arguments, when they were recorded.
    pub arguments: Option<i64>,
    pub failed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    Model,
    Tool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    pub kind: FlagKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagKind {
    /// A tool called at least `REPEATED_CALLS` times with the same arguments.
    RepeatedToolCall,
    /// At least `STORM_FAILURES` failed calls of one tool or model in a row.
    RetryStorm,
    /// A sequence of two to four tool calls repeated at least `LOOP_TURNS` times in a row, or one tool
    /// called `LOOP_SAME_TOOL` times in a row.
    Loop,
}

impl FlagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::RepeatedToolCall => "repeated_tool_call",
            FlagKind::RetryStorm => "retry_storm",
            FlagKind::Loop => "loop",
        }
    }
}

pub const REPEATED_CALLS: usize = 3;
pub const STORM_FAILURES: usize = 3;
pub const LOOP_TURNS: usize = 3;
pub const LOOP_SAME_TOOL: usize = 5;

/// The flags of a run whose calls are `steps`, each kind at most once per target, in a fixed order.
pub fn flags(steps: &[Step]) -> Vec<Flag> {
    let mut flags = Vec::new();
    repeated_tool_calls(steps, &mut flags);
    retry_storms(steps, &mut flags);
    loops(steps, &mut flags);
    flags
}

fn repeated_tool_calls(steps: &[Step], flags: &mut Vec<Flag>) {
    let mut counts: Vec<((&str, i64), usize)> = Vec::new();
    for step in steps.iter().filter(|s| s.kind == StepKind::Tool) {
        let Some(arguments) = step.arguments else { continue };
        let key = (step.target.as_str(), arguments);
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    for ((tool, _), n) in counts.into_iter().filter(|(_, n)| *n >= REPEATED_CALLS) {
        flags.push(Flag {
            kind: FlagKind::RepeatedToolCall,
            message: format!("{tool} was called {n} times with the same arguments"),
        });
    }
}

fn retry_storms(steps: &[Step], flags: &mut Vec<Flag>) {
    let mut flagged: Vec<(StepKind, &str)> = Vec::new();
    // Consecutive calls of one kind and target; the longest streak of failures among them.
    let mut start = 0;
    while start < steps.len() {
        let first = &steps[start];
        let (mut end, mut failures, mut streak) = (start, 0, 0);
        while end < steps.len() && steps[end].kind == first.kind && steps[end].target == first.target {
            streak = if steps[end].failed { streak + 1 } else { 0 };
            failures = failures.max(streak);
            end += 1;
        }
        if failures >= STORM_FAILURES && !flagged.contains(&(first.kind, first.target.as_str())) {
            flagged.push((first.kind, first.target.as_str()));
            let what = match first.kind {
                StepKind::Model => "model",
                StepKind::Tool => "tool",
            };
            flags.push(Flag {
                kind: FlagKind::RetryStorm,
                message: format!("{failures} failed calls of {what} {} in a row", first.target),
            });
        }
        start = end;
    }
}

fn loops(steps: &[Step], flags: &mut Vec<Flag>) {
    let tools: Vec<&str> = steps
        .iter()
        .filter(|s| s.kind == StepKind::Tool)
        .map(|s| s.target.as_str())
        .collect();
    // One tool again and again.
    let mut i = 0;
    while i < tools.len() {
        let run = tools[i..].iter().take_while(|t| **t == tools[i]).count();
        if run >= LOOP_SAME_TOOL {
            flags.push(Flag {
                kind: FlagKind::Loop,
                message: format!("{} was called {run} times in a row", tools[i]),
            });
            return;
        }
        i += run;
    }
    // A cycle of two to four distinct calls.
    for period in 2..=4 {
        for start in 0..tools.len().saturating_sub(period * LOOP_TURNS - 1) {
            let cycle = &tools[start..start + period];
            if cycle.iter().all(|t| *t == cycle[0]) {
                continue;
            }
            let turns = 1
                + (1..)
                    .take_while(|turn| {
                        let from = start + turn * period;
                        from + period <= tools.len() && &tools[from..from + period] == cycle
                    })
                    .count();
            if turns >= LOOP_TURNS {
                flags.push(Flag {
                    kind: FlagKind::Loop,
                    message: format!("the tool sequence {} repeated {turns} times", cycle.join(" → ")),
                });
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, arguments: i64, failed: bool) -> Step {
        Step {
            kind: StepKind::Tool,
            target: name.into(),
            arguments: Some(arguments),
            failed,
        }
    }

    fn model(failed: bool) -> Step {
        Step {
            kind: StepKind::Model,
            target: "gpt-4o".into(),
            arguments: None,
            failed,
        }
    }

    fn kinds(steps: &[Step]) -> Vec<FlagKind> {
        flags(steps).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_healthy_run_has_no_flags() {
        let steps = [
            model(false),
            tool("get_weather", 1, false),
            model(false),
            tool("get_stock", 2, true),
            model(false),
        ];
        assert!(flags(&steps).is_empty());
    }

    #[test]
    fn the_same_call_three_times_is_flagged_with_its_tool() {
        let steps = [
            tool("search", 7, false),
            model(false),
            tool("search", 7, false),
            model(false),
            tool("search", 7, false),
        ];
        let found = flags(&steps);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, FlagKind::RepeatedToolCall);
        assert_eq!(found[0].message, "search was called 3 times with the same arguments");
        // Different arguments are not a repetition.
        let steps = [tool("search", 1, false), tool("search", 2, false), tool("search", 3, false)];
        assert!(kinds(&steps).is_empty());
    }

    #[test]
    fn failures_in_a_row_are_a_storm_but_a_success_between_them_is_not() {
        assert_eq!(
            kinds(&[model(true), model(true), model(true), model(false)]),
            vec![FlagKind::RetryStorm]
        );
        assert!(kinds(&[model(true), model(true), model(false), model(true)]).is_empty());
        let storm = flags(&[tool("pay", 1, true), tool("pay", 2, true), tool("pay", 3, true)]);
        assert_eq!(storm[0].message, "3 failed calls of tool pay in a row");
    }

    #[test]
    fn a_repeating_tool_cycle_is_a_loop() {
        let mut steps = Vec::new();
        for turn in 0..3 {
            steps.push(tool("plan", turn, false));
            steps.push(tool("search", turn + 10, false));
        }
        let found = flags(&steps);
        assert_eq!(found.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![FlagKind::Loop]);
        assert_eq!(found[0].message, "the tool sequence plan → search repeated 3 times");
        // Twice is not yet a loop.
        assert!(kinds(&steps[..4]).is_empty());
        // One tool five times in a row with different arguments is.
        let same: Vec<Step> = (0..5).map(|i| tool("fetch", i, false)).collect();
        assert_eq!(kinds(&same), vec![FlagKind::Loop]);
    }
}
