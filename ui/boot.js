// Starts the otelbox UI (a separate file, so the Content-Security-Policy needs no inline script).
import init from "/pkg/otelbox-ui.js";
init({ module_or_path: "/pkg/otelbox-ui_bg.wasm" });
