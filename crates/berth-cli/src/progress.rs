//! Progress bars for transfers: bytes, rate and ETA on stderr, drawn only on
//! a terminal and never in JSON or quiet mode.

use std::sync::{Arc, Mutex};

use berth_service::{Progress, Transfer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bars {
    enabled: bool,
    current: Mutex<Option<ProgressBar>>,
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

impl Bars {
    pub fn new(enabled: bool) -> Self {
        Bars { enabled, current: Mutex::new(None) }
    }
}

impl Bars {
    /// A spinner for work of unknown length (training); hidden when bars are off.
    pub fn spinner(&self, label: &str) -> ProgressBar {
        let target = if self.enabled { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let s = ProgressBar::with_draw_target(None, target);
        s.set_message(label.to_string());
        s.enable_steady_tick(std::time::Duration::from_millis(120));
        s
    }
}

impl Transfer for Bars {
    fn begin(&self, label: &str, total_bytes: u64) -> Arc<dyn Progress> {
        let target = if self.enabled { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(total_bytes), target);
        let style =
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label.to_string());
        if let Ok(mut c) = self.current.lock() {
            *c = Some(bar.clone());
        }
        Arc::new(Bar(bar))
    }

    fn finish(&self) {
        if let Ok(mut c) = self.current.lock()
            && let Some(b) = c.take()
        {
            b.finish_and_clear();
        }
    }
}
