//! Finding and loading the ONNX Runtime shared library.
//!
//! `ort` is built with `load-dynamic` and without `download-binaries`, so the
//! library is found at run time, in this order:
//! 1. `ORT_DYLIB_PATH`, when set: an explicit choice, used alone (no silent fallback);
//! 2. the project-local folder `.deps/onnxruntime/` that `scripts/setup.sh`
//!    fills from the PyPI `onnxruntime` wheel, looked for above the running
//!    executable, above the working directory, and in the source checkout the
//!    binary was built from;
//! 3. the system's dynamic-loader path (`libonnxruntime.so`).
//!
//! The first library that loads wins; when none does, the error lists every
//! place looked at and what to run.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::ModelError;

/// The ONNX Runtime release that `ort` 2.0.0-rc.15 (`api-31`) targets.
pub const EXPECTED_VERSION: &str = "1.31";
/// Environment variable naming the library explicitly (the `ort` convention).
pub const DYLIB_PATH_VARIABLE: &str = "ORT_DYLIB_PATH";
/// Where `scripts/setup.sh` puts the library, relative to the project root.
pub const PROJECT_LIBRARY_DIR: &str = ".deps/onnxruntime";

const LIBRARY_PREFIX: &str = "libonnxruntime.so";

/// The loaded ONNX Runtime: one per process (ONNX Runtime allows a single environment).
#[derive(Debug)]
pub struct OnnxRuntime {
    library_path: PathBuf,
    version: String,
    environment: ort::environment::Environment,
}

impl OnnxRuntime {
    pub fn library_path(&self) -> &Path {
        &self.library_path
    }

    /// The library's version, e.g. `1.31.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn environment(&self) -> &ort::environment::Environment {
        &self.environment
    }
}

/// A place where the library may be, and why it is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub origin: &'static str,
}

/// The inputs of the search, separated from the process so that tests can vary them.
#[derive(Debug, Clone, Default)]
pub struct SearchRoots {
    pub dylib_path_variable: Option<PathBuf>,
    /// Folders whose ancestors may hold `.deps/onnxruntime/`, with a label each.
    pub project_anchors: Vec<(PathBuf, &'static str)>,
}

impl SearchRoots {
    /// The running process's roots: `ORT_DYLIB_PATH`, the executable's folder,
    /// the working directory and the source checkout this crate was built in.
    pub fn of_this_process() -> Self {
        let dylib_path_variable = std::env::var_os(DYLIB_PATH_VARIABLE)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let mut project_anchors = Vec::new();
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
        {
            project_anchors.push((dir, "above the executable"));
        }
        if let Ok(dir) = std::env::current_dir() {
            project_anchors.push((dir, "above the working directory"));
        }
        project_anchors.push((
            PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            "in the checkout heptaview was built from",
        ));
        Self {
            dylib_path_variable,
            project_anchors,
        }
    }
}

/// Every library file to try, in order, and the places that were looked at.
pub fn candidates(roots: &SearchRoots) -> (Vec<Candidate>, Vec<String>) {
    if let Some(path) = &roots.dylib_path_variable {
        let looked = vec![format!("{DYLIB_PATH_VARIABLE}={}", path.display())];
        let candidate = Candidate {
            path: path.clone(),
            origin: DYLIB_PATH_VARIABLE,
        };
        return (vec![candidate], looked);
    }
    let mut found = Vec::new();
    let mut looked = vec![format!("{DYLIB_PATH_VARIABLE} (unset)")];
    let mut seen_dirs: Vec<PathBuf> = Vec::new();
    for (anchor, origin) in &roots.project_anchors {
        for ancestor in anchor.ancestors() {
            let dir = ancestor.join(PROJECT_LIBRARY_DIR);
            let dir = dir.canonicalize().unwrap_or(dir);
            if seen_dirs.contains(&dir) || !dir.is_dir() {
                continue;
            }
            looked.push(format!("{} ({origin})", dir.display()));
            found.extend(
                libraries_in(&dir)
                    .into_iter()
                    .map(|path| Candidate { path, origin }),
            );
            seen_dirs.push(dir);
        }
    }
    if seen_dirs.is_empty() {
        let anchors: Vec<String> = roots
            .project_anchors
            .iter()
            .map(|(dir, _)| dir.display().to_string())
            .collect();
        looked.push(format!(
            "{PROJECT_LIBRARY_DIR}/ in any parent of {}",
            anchors.join(", ")
        ));
    }
    looked.push(format!("{LIBRARY_PREFIX} on the system library path"));
    found.push(Candidate {
        path: PathBuf::from(LIBRARY_PREFIX),
        origin: "the system library path",
    });
    (found, looked)
}

/// `libonnxruntime.so*` files in a folder, newest version first.
fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut libraries: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(LIBRARY_PREFIX))
                && path.is_file()
        })
        .collect();
    libraries.sort_by_key(|path| std::cmp::Reverse(version_of_file(path)));
    libraries
}

/// `[1, 31, 1]` from `libonnxruntime.so.1.31.1`; empty for an unversioned name.
fn version_of_file(path: &Path) -> Vec<u32> {
    path.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix(LIBRARY_PREFIX))
        .map(|rest| {
            rest.split('.')
                .filter_map(|part| part.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Error from loading, kept cloneable so that every caller in the process sees it.
#[derive(Debug, Clone)]
enum LoadFailure {
    NotFound { looked_in: String },
    Unusable { path: PathBuf, reason: String },
}

impl From<LoadFailure> for ModelError {
    fn from(failure: LoadFailure) -> Self {
        match failure {
            LoadFailure::NotFound { looked_in } => ModelError::RuntimeNotFound {
                expected: EXPECTED_VERSION,
                looked_in,
            },
            LoadFailure::Unusable { path, reason } => ModelError::RuntimeUnusable {
                path,
                reason,
                expected: EXPECTED_VERSION,
            },
        }
    }
}

static RUNTIME: OnceLock<Result<OnnxRuntime, LoadFailure>> = OnceLock::new();

/// The process's ONNX Runtime, found and loaded on first use.
pub fn onnxruntime() -> Result<&'static OnnxRuntime, ModelError> {
    RUNTIME
        .get_or_init(|| load(&SearchRoots::of_this_process()))
        .as_ref()
        .map_err(|failure| failure.clone().into())
}

fn load(roots: &SearchRoots) -> Result<OnnxRuntime, LoadFailure> {
    let (candidates, looked) = candidates(roots);
    let explicit = roots.dylib_path_variable.is_some();
    let mut last_unusable = None;
    for candidate in &candidates {
        match ort::init_from(&candidate.path) {
            Ok(builder) => {
                let environment =
                    builder
                        .with_name("heptaview")
                        .build()
                        .map_err(|e| LoadFailure::Unusable {
                            path: candidate.path.clone(),
                            reason: e.to_string(),
                        })?;
                let version = version_from_build_info(ort::info()).unwrap_or_else(|| {
                    version_of_file(&candidate.path)
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(".")
                });
                tracing::debug!(
                    "loaded ONNX Runtime {version} from {} ({})",
                    candidate.path.display(),
                    candidate.origin
                );
                return Ok(OnnxRuntime {
                    library_path: candidate.path.clone(),
                    version,
                    environment,
                });
            }
            Err(error) => {
                let missing = matches!(error, ort::LoadDynamicError::Dlopen { .. })
                    && !candidate.path.exists();
                // A library that exists but cannot be used (wrong version, not a
                // library) is worth reporting; a bare system name that dlopen
                // cannot find is just one more place looked at.
                if explicit || !missing {
                    last_unusable = Some(LoadFailure::Unusable {
                        path: candidate.path.clone(),
                        reason: error.to_string(),
                    });
                }
            }
        }
    }
    Err(last_unusable.unwrap_or(LoadFailure::NotFound {
        looked_in: looked.join("; "),
    }))
}

/// `1.31.1` from ONNX Runtime's build info (`... git-branch=rel-1.31.1, ...`).
fn version_from_build_info(info: &str) -> Option<String> {
    let start = info.find("rel-")? + "rel-".len();
    let version: String = info[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn the_variable_when_set_is_the_only_candidate() {
        let roots = SearchRoots {
            dylib_path_variable: Some(PathBuf::from("/opt/ort/libonnxruntime.so.1.31.1")),
            project_anchors: vec![(PathBuf::from("/"), "root")],
        };
        let (found, looked) = candidates(&roots);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].origin, DYLIB_PATH_VARIABLE);
        assert_eq!(looked, ["ORT_DYLIB_PATH=/opt/ort/libonnxruntime.so.1.31.1"]);
    }

    #[test]
    fn project_folders_are_found_above_an_anchor_newest_first() {
        let project = tempfile::tempdir().unwrap();
        let dir = project.path().join(PROJECT_LIBRARY_DIR);
        touch(&dir.join("libonnxruntime.so.1.30.0"));
        touch(&dir.join("libonnxruntime.so.1.31.1"));
        touch(&dir.join("README"));
        let anchor = project.path().join("target/debug");
        std::fs::create_dir_all(&anchor).unwrap();
        let roots = SearchRoots {
            dylib_path_variable: None,
            project_anchors: vec![(anchor.clone(), "exe"), (anchor, "cwd")],
        };
        let (found, looked) = candidates(&roots);
        let names: Vec<_> = found
            .iter()
            .map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "libonnxruntime.so.1.31.1",
                "libonnxruntime.so.1.30.0",
                "libonnxruntime.so"
            ]
        );
        assert_eq!(found[0].origin, "exe");
        assert_eq!(
            looked.len(),
            3,
            "the folder once, not per anchor: {looked:?}"
        );
    }

    #[test]
    fn nothing_found_still_says_where_it_looked() {
        let empty = tempfile::tempdir().unwrap();
        let roots = SearchRoots {
            dylib_path_variable: None,
            project_anchors: vec![(empty.path().to_path_buf(), "cwd")],
        };
        let (found, looked) = candidates(&roots);
        assert_eq!(found.len(), 1, "only the system path");
        assert!(
            looked[1].contains(".deps/onnxruntime/ in any parent of"),
            "{looked:?}"
        );
    }

    #[test]
    fn version_is_read_from_build_info() {
        let info = "ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc, build type=Release";
        assert_eq!(version_from_build_info(info).as_deref(), Some("1.31.1"));
        assert_eq!(version_from_build_info("no branch"), None);
    }
}
