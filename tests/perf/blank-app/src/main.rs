//! The blank reference window for the desktop-app benchmark: a Tauri v2 app with one window
//! showing a page that has only a background colour. Nothing else, so its start time and memory
//! are the floor the real app is compared against.

fn main() {
    if let Err(error) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("blank reference failed: {error}");
        std::process::exit(1);
    }
}
