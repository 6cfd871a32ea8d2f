//! Helpers of the command-line tests: running the binary, the project's
//! Python tools, small generated drives, loopback cameras and networks.
// Each test file uses its own share of these.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

/// Every input frame is accounted for once: processed, skipped as a
/// non-key frame, or dropped with a reason.
pub fn assert_frames_add_up(frames: &serde_json::Value) {
    let count = |v: &serde_json::Value| v.as_u64().unwrap();
    let dropped: u64 = frames["dropped"]
        .as_object()
        .unwrap()
        .values()
        .map(count)
        .sum();
    assert_eq!(
        count(&frames["input"]),
        count(&frames["processed"]) + count(&frames["skipped_keyframe"]) + dropped,
        "{frames}"
    );
}

pub fn heptaview(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heptaview"))
        .args(args)
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The project's Python tools (scripts/setup.sh installs them).
pub fn venv_tool(name: &str) -> std::path::PathBuf {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".deps/venv/bin")
        .join(name);
    assert!(
        tool.exists(),
        "{} is missing: run scripts/setup.sh",
        tool.display()
    );
    tool
}

/// A generated pedestrian_crossing drive of `seconds` at `width` px in `dir`.
pub fn small_drive(dir: &std::path::Path, width: &str, seconds: &str) -> std::path::PathBuf {
    let log = dir.join("drive");
    let generated = heptaview(&[
        "generate",
        "--scenario",
        "pedestrian_crossing",
        "--out",
        log.to_str().unwrap(),
        "--width",
        width,
        "--seconds",
        seconds,
    ]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    log
}

/// The fixture street clip (384x288, 10 fps, 5 s) and a rig scaled to its width.
pub fn video_and_rig(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let video = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/videos/vtest_clip.avi");
    let rig = dir.join("rig.toml");
    heptaview_calibration::argoverse2_rig()
        .unwrap()
        .scaled_to_width(384)
        .unwrap()
        .save(&rig)
        .unwrap();
    (video, rig)
}

/// An IP camera on loopback: scripts/mjpeg_server.py serving the fixture
/// video as HTTP MJPEG. Killed when dropped.
pub struct MjpegCamera {
    child: std::process::Child,
    pub port: u16,
}

impl MjpegCamera {
    /// `save_frames`: where the server writes the JPEG files it serves.
    pub fn start(
        video: &std::path::Path,
        port: u16,
        save_frames: Option<&std::path::Path>,
    ) -> Self {
        use std::io::BufRead;
        let mut server = Command::new(venv_tool("python"));
        server
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/mjpeg_server.py"
            ))
            .arg(video)
            .arg(port.to_string());
        if let Some(dir) = save_frames {
            server.arg("--save-frames").arg(dir);
        }
        let mut child = server.stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split(':')
            .nth(2)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in `{line}`"));
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for MjpegCamera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--detections` JSON lines by (camera, timestamp_ns).
pub fn detections_by_frame(
    path: &std::path::Path,
) -> std::collections::BTreeMap<(String, u64), Vec<serde_json::Value>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let frame: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = (
                frame["camera"].as_str().unwrap().to_owned(),
                frame["timestamp_ns"].as_u64().unwrap(),
            );
            (key, frame["detections"].as_array().unwrap().clone())
        })
        .collect()
}

/// Same classes and attributes; scores and boxes equal up to the rounding
/// that a different batch of crops or thread schedule can cause.
pub fn assert_same_detections(
    frame: &(String, u64),
    live: &[serde_json::Value],
    replay: &[serde_json::Value],
) {
    assert_eq!(
        live.len(),
        replay.len(),
        "{frame:?}: {live:?} vs {replay:?}"
    );
    for (a, b) in live.iter().zip(replay) {
        assert_eq!(a["class"], b["class"], "{frame:?}");
        assert_eq!(
            a["attributes"]["subtype"], b["attributes"]["subtype"],
            "{frame:?}"
        );
        let close = |x: &serde_json::Value, y: &serde_json::Value, tolerance: f64| {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() <= tolerance
        };
        assert!(
            close(&a["score"], &b["score"], 1e-3),
            "{frame:?}: {a} vs {b}"
        );
        for i in 0..4 {
            assert!(
                close(&a["box"][i], &b["box"][i], 0.05),
                "{frame:?}: {a} vs {b}"
            );
        }
    }
}

/// A free TCP port on loopback (bound and released; the OS hands ports out
/// in turn, so it stays free for the moment the test needs it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `heptaview camera-node` publishing `cameras` from the fixture video.
pub fn camera_node(
    video: &std::path::Path,
    endpoint: &str,
    cameras: &[&str],
) -> std::process::Child {
    let mut args = vec![
        "camera-node".to_owned(),
        "--endpoint".to_owned(),
        endpoint.to_owned(),
        "--vehicle".to_owned(),
        "testcar".to_owned(),
    ];
    for camera in cameras {
        args.push("--camera".to_owned());
        args.push(format!("{camera}={}", video.display()));
    }
    Command::new(env!("CARGO_BIN_EXE_heptaview"))
        .args(&args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Two network namespaces joined by a veth pair, removed when dropped.
pub struct Namespaces {
    names: [String; 2],
}

impl Namespaces {
    /// `None` (and why) where this test may not create them.
    pub fn create() -> Result<Self, String> {
        let run = |args: &[&str]| -> Result<(), String> {
            let output = Command::new("ip")
                .args(args)
                .output()
                .map_err(|e| format!("ip: {e}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "ip {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                ))
            }
        };
        let id = std::process::id() % 100_000;
        let names = [format!("hv-cam-{id}"), format!("hv-perc-{id}")];
        run(&["netns", "add", &names[0]])?;
        let spaces = Self { names };
        run(&["netns", "add", &spaces.names[1]])?;
        let (cam_if, perc_if) = (format!("hvc{id}"), format!("hvp{id}"));
        run(&[
            "link", "add", &cam_if, "type", "veth", "peer", "name", &perc_if,
        ])?;
        for (space, interface, address) in [
            (&spaces.names[0], &cam_if, "10.77.0.1/24"),
            (&spaces.names[1], &perc_if, "10.77.0.2/24"),
        ] {
            run(&["link", "set", interface, "netns", space])?;
            run(&["-n", space, "addr", "add", address, "dev", interface])?;
            run(&["-n", space, "link", "set", interface, "up"])?;
            run(&["-n", space, "link", "set", "lo", "up"])?;
        }
        Ok(spaces)
    }

    /// `heptaview ARGS` inside namespace `index`.
    pub fn heptaview(&self, index: usize, args: &[String]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.names[index]])
            .arg(env!("CARGO_BIN_EXE_heptaview"))
            .args(args);
        command
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}
