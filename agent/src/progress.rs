//! What a training run reports after each update: [`Progress`], shown as a progress bar
//! with ETA on a terminal ([`ProgressBarDisplay`], indicatif) or as one plain line per
//! update ([`Progress::line`]) where stderr is not a terminal (logs, CI, `--json`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The key numbers after one update.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// 1-based update number.
    pub update: u64,
    /// Updates in the run.
    pub num_updates: u64,
    /// Environment steps so far (all envs).
    pub global_step: u64,
    /// Mean return of the last 20 finished episodes (`None` before any).
    pub mean_return_last_20: Option<f64>,
    /// Environment steps per wall second over the run so far.
    pub steps_per_second: f64,
    /// The greedy policy's validation Sharpe, on updates that measured it.
    pub validation_sharpe: Option<f64>,
    /// The best validation Sharpe so far.
    pub best_validation_sharpe: Option<f64>,
}

impl Progress {
    /// The plain log line: `update 3/40 step 1536 return(last 20) 0.0123 sps 4210
    /// validation sharpe 0.812` (the Sharpe only on updates that measured it).
    pub fn line(&self) -> String {
        format!(
            "update {}/{} step {} return(last 20) {} sps {:.0}{}",
            self.update,
            self.num_updates,
            self.global_step,
            self.mean_return_last_20.map_or_else(|| "-".into(), |m| format!("{m:.4}")),
            self.steps_per_second,
            self.validation_sharpe.map_or_else(String::new, |s| format!(" validation sharpe {s:.3}")),
        )
    }

    /// The bar's message: step, return, speed and the best validation Sharpe.
    fn message(&self) -> String {
        format!(
            "step {} | return(20) {} | {:.0} sps | best val. Sharpe {}",
            self.global_step,
            self.mean_return_last_20.map_or_else(|| "-".into(), |m| format!("{m:.4}")),
            self.steps_per_second,
            self.best_validation_sharpe.map_or_else(|| "-".into(), |s| format!("{s:.3}")),
        )
    }
}

/// A progress bar on stderr over a run's updates, with elapsed time, ETA and the key
/// numbers; created at the first update shown, so a resumed run's bar starts where the
/// run resumed and its ETA counts only this session's speed.
#[derive(Debug, Default)]
pub struct ProgressBarDisplay {
    bar: Option<ProgressBar>,
}

/// The bar's layout (indicatif template).
const TEMPLATE: &str = "[{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} updates, ETA {eta} | {msg}";

impl ProgressBarDisplay {
    /// No bar yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the bar to `progress` (drawing it first if needed).
    pub fn show(&mut self, progress: &Progress) {
        let bar = self.bar.get_or_insert_with(|| {
            let style = ProgressStyle::with_template(TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar = ProgressBar::with_draw_target(Some(progress.num_updates), ProgressDrawTarget::stderr())
                .with_style(style)
                .with_position(progress.update.saturating_sub(1));
            // the estimator takes the starting position as seen, so the ETA counts only
            // the updates of this session
            bar.tick();
            bar.reset_eta();
            bar
        });
        bar.set_message(progress.message());
        bar.set_position(progress.update);
    }

    /// Leaves the bar drawn at its last state; the next [`Self::show`] starts a new one.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_line_names_every_number() {
        let mut p = Progress {
            update: 3,
            num_updates: 40,
            global_step: 1536,
            mean_return_last_20: Some(0.01234),
            steps_per_second: 4210.4,
            validation_sharpe: None,
            best_validation_sharpe: Some(0.5),
        };
        assert_eq!(p.line(), "update 3/40 step 1536 return(last 20) 0.0123 sps 4210");
        p.validation_sharpe = Some(0.8123);
        p.mean_return_last_20 = None;
        assert_eq!(p.line(), "update 3/40 step 1536 return(last 20) - sps 4210 validation sharpe 0.812");
        assert_eq!(p.message(), "step 1536 | return(20) - | 4210 sps | best val. Sharpe 0.500");
    }
}
