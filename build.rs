//! Makes sure `ui/dist` exists: the embedded-UI macro (rust-embed) fails to compile without it, and the
//! UI is built separately (`scripts/build-ui`), so `cargo build` and `cargo test` work before it is.

fn main() {
    let dist = std::path::Path::new("ui/dist");
    if !dist.exists() {
        std::fs::create_dir_all(dist).expect("create ui/dist");
    }
    // Re-embed when the UI is rebuilt (release builds include the files in the binary).
    println!("cargo:rerun-if-changed=ui/dist");
    println!("cargo:rerun-if-changed=build.rs");
}
