//! The bot's commands ([`Command`]): parsed from a message's text and carried out on the
//! engine, answering in plain text. `/kill` and `/resume` do what `POST /kill` and
//! `POST /resume` do, and their journal events reach every destination as alerts.

use std::fmt::Write;
use std::sync::Mutex;

use rltrade_env::bar::format_time_ms;

use crate::engine::Engine;

/// A command the bot obeys (from an allowed chat only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `/status`: running or halted, the last bar, the feed, each strategy's state.
    Status,
    /// `/positions`: each strategy's position, exposure, cash and pending target.
    Positions,
    /// `/pnl`: each strategy's equity against its starting cash.
    Pnl,
    /// `/kill` (`/kill flatten` also queues a liquidation of every position).
    Kill {
        /// Flatten every position at the next open.
        flatten: bool,
    },
    /// `/resume`: releases the kill switch and lifts halts.
    Resume,
    /// `/help` (and `/start`, which Telegram sends first): the commands.
    Help,
}

/// The text of `/help`.
pub const HELP: &str = "rltrade commands:\n/status: daemon and strategies\n/positions: positions and exposure\n\
/pnl: equity against the starting cash\n/kill: engage the kill switch (/kill flatten: and close every position)\n\
/resume: release the kill switch and lift halts\n/help: this list";

impl Command {
    /// Parses a message's text: `/name`, optionally `@botname` after it (as in groups),
    /// then arguments (only `/kill flatten` takes one).
    ///
    /// # Errors
    /// The answer to send: an unknown command or argument, with the list of commands.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut words = text.split_whitespace();
        let name = words.next().unwrap_or_default();
        let name = name.split('@').next().unwrap_or_default();
        let args: Vec<&str> = words.collect();
        let command = match name {
            "/status" => Self::Status,
            "/positions" => Self::Positions,
            "/pnl" => Self::Pnl,
            "/kill" => match args.as_slice() {
                [] => return Ok(Self::Kill { flatten: false }),
                ["flatten"] => return Ok(Self::Kill { flatten: true }),
                _ => return Err(format!("/kill takes nothing or `flatten`\n\n{HELP}")),
            },
            "/resume" => Self::Resume,
            "/help" | "/start" => Self::Help,
            _ => {
                let shown: String = name.chars().take(32).collect();
                return Err(format!("unknown command `{shown}`\n\n{HELP}"));
            }
        };
        if !args.is_empty() {
            return Err(format!("{name} takes no argument\n\n{HELP}"));
        }
        Ok(command)
    }

    /// Carries the command out on `engine` and returns the answer.
    pub fn execute(self, engine: &Mutex<Engine>) -> String {
        let mut engine = engine.lock().unwrap_or_else(|p| p.into_inner());
        match self {
            Self::Help => HELP.to_string(),
            Self::Status => status(&engine),
            Self::Positions => {
                let mut text = String::from("positions:");
                for p in engine.positions() {
                    let _ = write!(
                        text,
                        "\n{}: {} ({:+.2} exposure), cash {:.2}, equity {:.2}",
                        p.strategy, p.position, p.exposure, p.cash, p.equity
                    );
                    if let Some(target) = p.pending_target {
                        let _ = write!(text, ", order pending for {target:+.2}");
                    }
                }
                text
            }
            Self::Pnl => {
                let accounts = engine.accounts();
                let mut text = String::from("PnL:");
                for p in engine.positions() {
                    let start = accounts.get(&p.strategy).map_or(0.0, |a| a.portfolio.initial_cash);
                    let pnl = p.equity - start;
                    let pct = if start != 0.0 { pnl / start * 100.0 } else { 0.0 };
                    let _ = write!(
                        text,
                        "\n{}: {pnl:+.2} ({pct:+.2} %), equity {:.2} from {start:.2}",
                        p.strategy, p.equity
                    );
                }
                text
            }
            Self::Kill { flatten } => {
                let outcome = engine.kill(flatten);
                let mut text = String::from(if flatten {
                    "kill switch engaged; every position is closed at the next open"
                } else {
                    "kill switch engaged"
                });
                if !outcome.journaled {
                    text.push_str(
                        "\nthe journal did not record it: the daemon halted and trades nothing; engage it again \
                         after a restart",
                    );
                }
                text
            }
            Self::Resume => match engine.resume() {
                Ok(()) => "trading resumed".to_string(),
                Err(e) => format!("not resumed: {e}"),
            },
        }
    }
}

fn status(engine: &Engine) -> String {
    let mut text = match engine.halt() {
        Some(halt) => format!("HALTED: {halt}"),
        None => "running".to_string(),
    };
    match engine.last_bar() {
        Some(bar) => {
            let _ = write!(text, "\nlast bar {} (close {:.2})", format_time_ms(bar.time_ms), bar.close);
        }
        None => text.push_str("\nno bar yet"),
    }
    if engine.feed_stale() {
        text.push_str("\nfeed STALE: trading REDUCING");
    }
    for p in engine.positions() {
        let _ = write!(text, "\n{}: {:?}", p.strategy, p.trading_state);
        if p.kill_switch {
            text.push_str(", kill switch engaged");
        }
        if let Some(reason) = &p.halt_reason {
            let _ = write!(text, ", halted: {reason:?}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_a_bot_name_and_refuse_the_rest() {
        assert_eq!(Command::parse("/status"), Ok(Command::Status));
        assert_eq!(Command::parse("/status@rltrade_bot"), Ok(Command::Status));
        assert_eq!(Command::parse("  /kill   flatten "), Ok(Command::Kill { flatten: true }));
        assert_eq!(Command::parse("/kill"), Ok(Command::Kill { flatten: false }));
        assert_eq!(Command::parse("/start"), Ok(Command::Help));
        for bad in ["/kill now", "/pnl x", "hello", "", "/sell"] {
            let answer = Command::parse(bad).unwrap_err();
            assert!(answer.contains("/status"), "{bad}: {answer}");
        }
    }
}
