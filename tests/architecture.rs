//! The crate and module structure holds: no module uses another that uses it
//! back, crates depend one way, and the runtime and perception crates build
//! without the heavy dependencies they must not need (see ARCHITECTURE.md).

use std::process::Command;

#[test]
fn no_module_cycles_and_one_way_crates() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("python3")
        .arg(format!("{root}/scripts/check_module_cycles.py"))
        .arg(root)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("no cycles among 8 crates"), "{stdout}");
}
