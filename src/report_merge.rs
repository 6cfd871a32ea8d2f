//! `heptaview report merge DIR`: the run reports in a folder (and its
//! subfolders: one per shard, say) merged into one.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use heptaview_eval::merge::merge_reports;
use heptaview_eval::report::Report;
use serde_json::Value;

use crate::Failure;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Merge every run report (`*.json`) under DIR: frame and frame-set
    /// counts, detector calls, bytes and decisions summed; throughput from
    /// the sums; latency percentiles from the runs' histograms; detection
    /// recall/precision and decision agreement from the summed counts.
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// A folder of reports, e.g. the --out of `replay --logs` (searched recursively).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Write the merged report here [default: print it].
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

pub fn run(command: &Command) -> Result<(), Failure> {
    let Command::Merge(args) = command;
    let mut files = Vec::new();
    json_files(&args.dir, &mut files)
        .with_context(|| format!("cannot read {}", args.dir.display()))
        .map_err(Failure::BadInput)?;
    files.sort();
    let mut reports = Vec::new();
    for file in files {
        if args.out.as_deref() == Some(file.as_path()) {
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))
            .map_err(Failure::BadInput)?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", file.display()))
            .map_err(Failure::BadInput)?;
        // A merge of earlier runs is not a run: merging it would count twice.
        if value.get("merged_reports").is_some() {
            eprintln!("skipping {} (a merged report)", file.display());
            continue;
        }
        let report: Report = serde_json::from_value(value)
            .with_context(|| format!("{} is not a heptaview run report", file.display()))
            .map_err(Failure::BadInput)?;
        reports.push((file.display().to_string(), report));
    }
    if reports.is_empty() {
        return Err(Failure::BadInput(anyhow!(
            "{}: no run reports (*.json) to merge",
            args.dir.display()
        )));
    }
    let merged = merge_reports(&reports).map_err(|e| Failure::BadInput(e.into()))?;
    let json = serde_json::to_string_pretty(&merged).map_err(|e| Failure::Runtime(e.into()))?;
    eprintln!("{}", merged.summary());
    match &args.out {
        Some(path) => {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(Failure::Runtime)?;
            eprintln!("merged report: {}", path.display());
        }
        None => println!("{json}"),
    }
    Ok(())
}

fn json_files(dir: &Path, into: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            json_files(&path, into)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            into.push(path);
        }
    }
    Ok(())
}
