//! A trace's statistics table (Jaeger's Trace Statistics): per service, or per service and operation,
//! the span count, errors, total, average, min and max duration and the self time; any column sorts.
//! The grouping is the page's `group` parameter.

use crate::components::charts::colour_for;
use crate::components::query;
use crate::format;
use crate::span_stats::{self, GroupStats, Grouping};
use crate::wire::Span;
use leptos::prelude::*;
use std::sync::Arc;

/// Rows drawn before "show all": a trace whose span names are all different (`step 1` .. `step 9999`)
/// has a group per span, and 10,000 table rows took 3 s to draw.
const SHOWN_AT_FIRST: usize = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Name,
    Count,
    Errors,
    Total,
    Avg,
    Min,
    Max,
    SelfTotal,
    SelfAvg,
}

impl Column {
    /// Sorts ascending by this column.
    fn compare(self, a: &GroupStats, b: &GroupStats) -> std::cmp::Ordering {
        match self {
            Column::Name => (&a.service, &a.operation).cmp(&(&b.service, &b.operation)),
            Column::Count => a.count.cmp(&b.count),
            Column::Errors => a.errors.cmp(&b.errors),
            Column::Total => a.total_ns.cmp(&b.total_ns),
            Column::Avg => a.avg_ns().cmp(&b.avg_ns()),
            Column::Min => a.min_ns.cmp(&b.min_ns),
            Column::Max => a.max_ns.cmp(&b.max_ns),
            Column::SelfTotal => a.self_ns.cmp(&b.self_ns),
            Column::SelfAvg => a.self_avg_ns().cmp(&b.self_avg_ns()),
        }
    }
}

#[component]
pub fn TraceStats(spans: Arc<Vec<Span>>, self_ns: Arc<Vec<i64>>) -> impl IntoView {
    let group = query::param("group");
    let set_query = query::setter();
    let grouping = Memo::new(move |_| {
        if group.get() == "service" {
            Grouping::Service
        } else {
            Grouping::Operation
        }
    });
    // Sorted by self time, largest first: where the trace's time went.
    let sort = RwSignal::new((Column::SelfTotal, true));
    let all_self: i64 = self_ns.iter().sum::<i64>().max(1);
    let span_count = spans.len();
    let groups = {
        let spans = spans.clone();
        Memo::new(move |_| span_stats::group(&spans, &self_ns, grouping.get()))
    };
    let show_all = RwSignal::new(false);
    let rows = move || {
        let (column, descending) = sort.get();
        let limit = if show_all.get() { usize::MAX } else { SHOWN_AT_FIRST };
        let mut list = groups.get();
        list.sort_by(|a, b| {
            let order = column.compare(a, b);
            if descending {
                order.reverse()
            } else {
                order
            }
        });
        let by_service = grouping.get() == Grouping::Service;
        list.into_iter()
            .take(limit)
            .map(|g| {
                let share = g.self_ns as f64 / all_self as f64 * 100.0;
                view! {
                    <tr>
                        <td><span class="svc" style=format!("color:{}", colour_for(&g.service))>{g.service.clone()}</span></td>
                        {(!by_service).then(|| view! { <td class="op-name">{g.operation.clone()}</td> })}
                        <td class="num">{g.count}</td>
                        <td class="num err-count">{(g.errors > 0).then_some(g.errors)}</td>
                        <td class="num">{format::duration(g.total_ns)}</td>
                        <td class="num">{format::duration(g.avg_ns())}</td>
                        <td class="num">{format::duration(g.min_ns)}</td>
                        <td class="num">{format::duration(g.max_ns)}</td>
                        <td class="num self-total">{format::duration(g.self_ns)}</td>
                        <td class="num">{format::duration(g.self_avg_ns())}</td>
                        <td class="num">
                            <div class="share"><div class="bar" style=format!("width:{share:.1}%")></div></div>
                            {format!("{share:.1}%")}
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };
    let header = move |column: Column, label: &'static str, title: &'static str| {
        let arrow = move || match sort.get() {
            (c, true) if c == column => " ▾",
            (c, false) if c == column => " ▴",
            _ => "",
        };
        view! {
            <th class="sortable" class:num=column != Column::Name title=title
                on:click=move |_| sort.update(|s| *s = if s.0 == column { (column, !s.1) } else { (column, column != Column::Name) })>
                {label}{arrow}
            </th>
        }
    };
    let set_group = set_query.clone();
    view! {
        <div class="trace-stats-head">
            <span class="muted small stats-caption">
                {move || format!("{span_count} spans in {} groups · click a column to sort", groups.read().len())}
            </span>
            <label class="inline">"group by "
                <select class="stats-group" on:change=move |ev| {
                    let value = event_target_value(&ev);
                    set_group(&[("group", if value == "service" { value } else { String::new() })]);
                }>
                    <option value="" selected=move || grouping.get() == Grouping::Operation>"service and operation"</option>
                    <option value="service" selected=move || grouping.get() == Grouping::Service>"service"</option>
                </select>
            </label>
        </div>
        <table class="list trace-stats">
            <thead>
                <tr>
                    {header(Column::Name, "Service", "Sort by service (and operation)")}
                    {move || (grouping.get() == Grouping::Operation).then(|| view! { <th>"Operation"</th> })}
                    {header(Column::Count, "Spans", "How many spans")}
                    {header(Column::Errors, "Errors", "Spans with error status")}
                    {header(Column::Total, "Total", "Summed durations")}
                    {header(Column::Avg, "Avg", "Average duration")}
                    {header(Column::Min, "Min", "Shortest span")}
                    {header(Column::Max, "Max", "Longest span")}
                    {header(Column::SelfTotal, "Self total", "Summed self time: each span's duration less the time its children cover")}
                    {header(Column::SelfAvg, "Self avg", "Average self time")}
                    <th class="num" title="Share of all the spans' self time">"Self %"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {move || {
            let groups = groups.read().len();
            (groups > SHOWN_AT_FIRST && !show_all.get()).then(|| view! {
                <button class="ghost show-all stats-show-all" on:click=move |_| show_all.set(true)>
                    {format!("show all {groups} groups ({} more; the first {SHOWN_AT_FIRST} in this order are shown)", groups - SHOWN_AT_FIRST)}
                </button>
            })
        }}
    }
}
