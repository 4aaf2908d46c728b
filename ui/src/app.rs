//! The application shell: navigation, theme, auto-refresh, and the routes of every page.

use crate::pages;
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

/// Shared by every page: bumped every few seconds while auto-refresh is on, so pages refetch.
#[derive(Clone, Copy)]
pub struct Refresh {
    pub tick: RwSignal<u64>,
    pub auto: RwSignal<bool>,
}

/// Read inside a resource's fetcher so that the resource reloads on every auto-refresh tick.
pub fn refresh_tick() -> u64 {
    use_context::<Refresh>().map(|r| r.tick.get()).unwrap_or(0)
}

#[component]
pub fn App() -> impl IntoView {
    let refresh = Refresh {
        tick: RwSignal::new(0),
        auto: RwSignal::new(false),
    };
    provide_context(refresh);
    // One interval for the whole app; it only bumps the tick while auto-refresh is on.
    let _ = set_interval_with_handle(
        move || {
            if refresh.auto.get_untracked() {
                refresh.tick.update(|t| *t += 1);
            }
        },
        std::time::Duration::from_secs(5),
    );
    let theme = RwSignal::new(crate::components::theme::stored());
    Effect::new(move |_| crate::components::theme::apply(theme.get()));

    view! {
        <Router>
            <header class="topbar">
                <a class="brand" href="/traces">"otelbox"</a>
                <nav>
                    <A href="/traces">"Traces"</A>
                    <A href="/logs">"Logs"</A>
                    <A href="/metrics">"Metrics"</A>
                    <A href="/services">"Services"</A>
                    <A href="/llm">"LLM runs"</A>
                    <A href="/setup">"Setup"</A>
                </nav>
                <div class="topbar-tools">
                    <label class="toggle" title="Reload the page's data every 5 seconds">
                        <input
                            type="checkbox"
                            prop:checked=move || refresh.auto.get()
                            on:change=move |ev| refresh.auto.set(event_target_checked(&ev))
                        />
                        "Auto-refresh"
                    </label>
                    <button
                        class="ghost"
                        title="Theme: follow the system, light or dark"
                        on:click=move |_| theme.update(|t| *t = t.next())
                    >
                        {move || theme.get().label()}
                    </button>
                </div>
            </header>
            <main>
                <Routes fallback=|| view! { <pages::NotFound/> }>
                    <Route path=path!("/") view=pages::traces::TracesPage/>
                    <Route path=path!("/traces") view=pages::traces::TracesPage/>
                    <Route path=path!("/traces/:trace_id") view=pages::trace::TracePage/>
                    <Route path=path!("/logs") view=pages::logs::LogsPage/>
                    <Route path=path!("/metrics") view=pages::metrics::MetricsPage/>
                    <Route path=path!("/metrics/:name") view=pages::metrics::MetricPage/>
                    <Route path=path!("/services") view=pages::services::ServicesPage/>
                    <Route path=path!("/llm") view=pages::llm::LlmPage/>
                    <Route path=path!("/setup") view=pages::setup::SetupPage/>
                </Routes>
            </main>
        </Router>
    }
}
