//! `heptaview replay --logs LIST --shard I/N --out DIR`: one process's share
//! of many logs, each replayed on its own exactly as `heptaview replay LOG`
//! would, with one report per log. The share is a pure function of the list
//! and I/N, so any scheduler that starts N processes with I = 0..N-1 (a
//! Kubernetes Indexed Job's completion index, a shell loop) covers every log
//! once; `heptaview report merge` then combines the reports.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, anyhow};
use heptaview_io::replay::ReplayOptions;
use heptaview_io::sinks::rerun::RerunTarget;

use crate::Failure;
use crate::session::{Plan, run_plan};
use heptaview_datasets::OpenOptions;

/// This process is number `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parsed = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if count > 0 && index < count => Ok(Self { index, count }),
            _ => Err(format!(
                "`{text}` is not I/N with 0 <= I < N (e.g. 0/4 for the first of four)"
            )),
        }
    }
}

pub fn parse_shard(text: &str) -> Result<Shard, String> {
    text.parse()
}

/// A listed log: its position in the list and its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub position: usize,
    pub log: PathBuf,
}

/// The logs of a list file, in order; relative paths are relative to the
/// list's folder, so that a list travels with the logs it names.
pub fn read_list(list: &Path) -> Result<Vec<Listed>, Failure> {
    let text = std::fs::read_to_string(list)
        .with_context(|| format!("cannot read the log list {}", list.display()))
        .map_err(Failure::BadInput)?;
    let base = list.parent().unwrap_or(Path::new("."));
    let logs: Vec<Listed> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .enumerate()
        .map(|(position, line)| Listed {
            position,
            log: base.join(line),
        })
        .collect();
    if logs.is_empty() {
        return Err(Failure::BadInput(anyhow!(
            "{}: lists no logs",
            list.display()
        )));
    }
    Ok(logs)
}

/// The logs at positions `index`, `index + count`, ...
pub fn share(logs: &[Listed], shard: Shard) -> Vec<Listed> {
    logs.iter()
        .filter(|l| l.position % shard.count == shard.index)
        .cloned()
        .collect()
}

/// Where a listed log's report goes: its position keeps names unique and
/// in list order whatever the folders are called.
pub fn report_name(listed: &Listed) -> String {
    let name = listed
        .log
        .file_name()
        .map_or_else(|| "log".to_owned(), |n| n.to_string_lossy().into_owned());
    format!("{:05}-{name}.json", listed.position)
}

pub fn run(
    list: &Path,
    shard: Shard,
    out: &Path,
    options: &ReplayOptions,
    open: &OpenOptions,
    eval: bool,
) -> Result<(), Failure> {
    let logs = read_list(list)?;
    let mine = share(&logs, shard);
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create {}", out.display()))
        .map_err(Failure::Runtime)?;
    eprintln!(
        "shard {shard}: {} of the {} logs in {}",
        mine.len(),
        logs.len(),
        list.display()
    );
    let mut failed = Vec::new();
    for listed in &mine {
        if crate::interrupt::interrupted() {
            break;
        }
        eprintln!("log {}: {}", listed.position, listed.log.display());
        let plan = Plan {
            log: listed.log.clone(),
            open: open.clone(),
            options: options.clone(),
            rerun: RerunTarget::Off,
            eval,
            keyframe_recall_pass: true,
            report: Some(out.join(report_name(listed))),
            detections: None,
        };
        // One bad log must not cost the others: say so and go on.
        if let Err(failure) = run_plan(&plan) {
            let why = match failure {
                Failure::BadInput(e) | Failure::Runtime(e) => format!("{e:#}"),
                Failure::Reported(code) => format!("exit {code}"),
            };
            eprintln!("error: log {}: {why}", listed.log.display());
            failed.push(listed.log.display().to_string());
        }
    }
    if crate::interrupt::interrupted() {
        return Err(Failure::Runtime(anyhow!(
            "interrupted: reports so far are in {}",
            out.display()
        )));
    }
    if !failed.is_empty() {
        return Err(Failure::Runtime(anyhow!(
            "{} of {} logs failed: {}",
            failed.len(),
            mine.len(),
            failed.join(", ")
        )));
    }
    eprintln!("shard {shard}: {} reports in {}", mine.len(), out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_log_once() {
        let logs: Vec<Listed> = (0..10)
            .map(|position| Listed {
                position,
                log: PathBuf::from(format!("log{position}")),
            })
            .collect();
        for count in 1..=12 {
            let mut seen: Vec<usize> = (0..count)
                .flat_map(|index| share(&logs, Shard { index, count }))
                .map(|l| l.position)
                .collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..10).collect::<Vec<_>>(), "{count} shards");
        }
    }

    #[test]
    fn shard_text_is_checked() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
