//! Keyboard navigation of the main lists: j/k or the arrow keys move, Enter opens, `/` goes to search.

use leptos::ev;
use leptos::prelude::*;

/// Which row is selected, moved by the keyboard; `open(i)` runs on Enter. Keys typed into a text
/// field are left alone.
pub fn list_keys(len: Signal<usize>, open: impl Fn(usize) + 'static) -> RwSignal<Option<usize>> {
    let selected = RwSignal::new(None::<usize>);
    let handle = window_event_listener(ev::keydown, move |event| {
        if typing(&event) {
            return;
        }
        let n = len.get_untracked();
        match event.key().as_str() {
            "/" => {
                if let Some(input) = document().get_element_by_id("search") {
                    event.prevent_default();
                    use wasm_bindgen::JsCast;
                    if let Ok(input) = input.dyn_into::<web_sys::HtmlElement>() {
                        let _ = input.focus();
                    }
                }
            }
            "j" | "ArrowDown" if n > 0 => {
                event.prevent_default();
                selected.update(|s| *s = Some(s.map_or(0, |i| (i + 1).min(n - 1))));
                scroll_selected();
            }
            "k" | "ArrowUp" if n > 0 => {
                event.prevent_default();
                selected.update(|s| *s = Some(s.map_or(0, |i| i.min(n - 1).saturating_sub(1))));
                scroll_selected();
            }
            "Enter" => {
                if let Some(i) = selected.get_untracked() {
                    if i < n {
                        open(i);
                    }
                }
            }
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
    selected
}

fn typing(event: &web_sys::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .map(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"))
        .unwrap_or(false)
}

/// Keeps the selected row (marked `.selected` by the page) in view after the DOM updates.
fn scroll_selected() {
    request_animation_frame(|| {
        if let Ok(Some(row)) = document().query_selector(".selected") {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Nearest);
            row.scroll_into_view_with_scroll_into_view_options(&options);
        }
    });
}
