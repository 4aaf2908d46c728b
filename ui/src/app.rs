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

thread_local! {
    /// Set when the API answers 401: the shell then shows the login page instead of the routes.
    static LOGIN_REQUIRED: std::cell::Cell<Option<RwSignal<bool>>> = const { std::cell::Cell::new(None) };
}

/// Called by the API client on a 401.
pub fn require_login() {
    if let Some(flag) = LOGIN_REQUIRED.with(|f| f.get()) {
        flag.set(true);
    }
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
    crate::components::open_file::provide();
    // One interval for the whole app; it only bumps the tick while auto-refresh is on.
    let _ = set_interval_with_handle(
        move || {
            if refresh.auto.get_untracked() {
                refresh.tick.update(|t| *t += 1);
            }
        },
        std::time::Duration::from_secs(5),
    );
    let login_required = RwSignal::new(false);
    let logged_in = RwSignal::new(false);
    LOGIN_REQUIRED.with(|f| f.set(Some(login_required)));
    // Whether tokens are in use (then the bar offers "Log out"): an empty login attempt tells.
    leptos::task::spawn_local(async move {
        let required = !matches!(crate::api::login("").await, Ok(false));
        logged_in.set(required);
    });
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
                    <A href="/llm">"LLM"</A>
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
                    {move || logged_in.get().then(|| view! {
                        <button
                            class="ghost logout"
                            on:click=move |_| {
                                logged_in.set(false);
                                leptos::task::spawn_local(async move {
                                    crate::api::logout().await;
                                    login_required.set(true);
                                });
                            }
                        >
                            "Log out"
                        </button>
                    })}
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
                <Show when=move || login_required.get()>
                    <LoginPage on_success=Callback::new(move |_required: bool| {
                        // Every page's data failed with 401 behind the login: start the page afresh.
                        let _ = window().location().reload();
                    })/>
                </Show>
                <div class:hidden=move || login_required.get()>
                <Routes fallback=|| view! { <pages::NotFound/> }>
                    <Route path=path!("/") view=pages::traces::TracesPage/>
                    <Route path=path!("/traces") view=pages::traces::TracesPage/>
                    <Route path=path!("/traces/compare") view=pages::trace_compare::TraceComparePage/>
                    <Route path=path!("/traces/file") view=pages::trace_file::TraceFilePage/>
                    <Route path=path!("/traces/:trace_id") view=pages::trace::TracePage/>
                    <Route path=path!("/logs") view=pages::logs::LogsPage/>
                    <Route path=path!("/metrics") view=pages::metrics::MetricsPage/>
                    <Route path=path!("/metrics/:name") view=pages::metrics::MetricPage/>
                    <Route path=path!("/services") view=pages::services::ServicesPage/>
                    <Route path=path!("/llm") view=pages::llm::LlmPage/>
                    <Route path=path!("/llm/sessions") view=pages::llm::LlmSessionsPage/>
                    <Route path=path!("/llm/models") view=pages::llm::LlmModelsPage/>
                    <Route path=path!("/llm/runs/:trace_id") view=pages::llm_run::LlmRunPage/>
                    <Route path=path!("/llm/compare") view=pages::llm_compare::LlmComparePage/>
                    <Route path=path!("/setup") view=pages::setup::SetupPage/>
                </Routes>
                </div>
            </main>
        </Router>
    }
}

/// Shown when the API wants a token: the server checks it and starts a session whose id it keeps in
/// an HttpOnly cookie (scripts cannot read it; live tails carry it).
#[component]
fn LoginPage(on_success: Callback<bool>) -> impl IntoView {
    let token = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move || {
        let value = token.get_untracked();
        leptos::task::spawn_local(async move {
            match crate::api::login(value.trim()).await {
                Ok(required) => {
                    error.set(None);
                    token.set(String::new());
                    on_success.run(required);
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let submit_key = submit;
    view! {
        <section class="page login">
            <h2>"Log in to otelbox"</h2>
            <p class="muted">"This otelbox requires an API token (set with " <code>"--api-token"</code> " or OTELBOX_API_TOKEN where it runs)."</p>
            <div class="filter-row">
                <input
                    id="token"
                    type="password"
                    autocomplete="current-password"
                    placeholder="API token"
                    prop:value=move || token.get()
                    on:input=move |ev| token.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" {
                            submit_key();
                        }
                    }
                />
                <button class="primary" on:click=move |_| submit()>"Log in"</button>
            </div>
            {move || error.get().map(|e| view! { <div class="filter-error" role="alert">{e}</div> })}
        </section>
    }
}
