//! Generates the Tauri context of the blank reference window (no commands of its own).

fn main() {
    tauri_build::build();
}
