//! Ctrl-C for the whole process: one handler, installed on first use, that
//! stops the run in progress (what is in flight drains, and reports and
//! recordings are written) and every run after it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use anyhow::anyhow;
use heptaview_runtime::threads::Control;

use crate::Failure;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static CURRENT: Mutex<Option<Arc<Control>>> = Mutex::new(None);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// A fresh control for the next run, stopped by Ctrl-C.
pub fn run_control() -> Result<Arc<Control>, Failure> {
    let installed = INSTALLED.get_or_init(|| {
        ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            if let Some(control) = CURRENT
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
            {
                control.request_stop();
            }
        })
        .map_err(|e| e.to_string())
    });
    if let Err(e) = installed {
        return Err(Failure::Runtime(anyhow!(
            "cannot install the Ctrl-C handler: {e}"
        )));
    }
    let control = Arc::new(Control::default());
    if interrupted() {
        control.request_stop();
    }
    *CURRENT.lock().unwrap_or_else(PoisonError::into_inner) = Some(control.clone());
    Ok(control)
}

/// Whether Ctrl-C was pressed during this process.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
