//! Choices the command line offers, as clap value enums: `--help` lists
//! them and a wrong one is refused by name.

use heptaview_perception::config::KeyframeMode;

/// `--keyframes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyframesArg {
    /// Detect a camera's frame when it changed (the camera looking ahead:
    /// every interval), or every 500 ms.
    Auto,
    /// Detect every frame.
    Off,
}

impl From<KeyframesArg> for KeyframeMode {
    fn from(arg: KeyframesArg) -> Self {
        match arg {
            KeyframesArg::Auto => KeyframeMode::Auto,
            KeyframesArg::Off => KeyframeMode::Off,
        }
    }
}

/// `live --source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceArg {
    /// Cameras opened here (`--camera NAME=SOURCE`).
    Cameras,
    /// Camera nodes on other computers, over Zenoh.
    Zenoh,
}

/// `camera-node --congestion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CongestionArg {
    /// A congested link drops frames (counted as transport gaps): live driving.
    Drop,
    /// Wait for room, losing nothing: when the receiver records.
    Block,
}
