//! Helpers shared by the datasets tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use heptaview_datasets::generator::{GenerateOptions, generate};

/// A short generated drive, small enough for tests: `seconds` at 10 fps, 256 px wide.
pub fn small_log(dir: &Path, scenario: &str, seconds: f64, seed: u64) -> PathBuf {
    small_log_at(dir, scenario, seconds, seed, 10.0)
}

/// The same at `fps` frames per second.
pub fn small_log_at(dir: &Path, scenario: &str, seconds: f64, seed: u64, fps: f64) -> PathBuf {
    let out = dir.join(format!("{scenario}-{seed}"));
    let options = GenerateOptions {
        width_px: 256,
        seconds: Some(seconds),
        seed,
        fps,
        ..GenerateOptions::new(scenario, &out)
    };
    generate(options, &mut |_, _| {}).unwrap();
    out
}

/// The project's Python (scripts/setup.sh makes it), with pyarrow and numpy.
pub fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.deps/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh",
        python.display()
    );
    python
}

/// Runs a Python snippet with arguments; panics with its output on failure.
pub fn run_python(code: &str, args: &[&str]) -> String {
    let output = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Copies a log folder (to break a copy without touching the original).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// All files under a folder with their bytes, sorted by relative path.
pub fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}
