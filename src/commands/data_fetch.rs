//! `rltrade data fetch --symbol S --interval I --start DATE [--end DATE] --out FILE
//! [--base-url URL]`: closed Binance spot klines into a bar CSV
//! (`rltrade_serve::binance::fetch`), then its summary and data-quality numbers.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use rltrade_env::split::parse_date;
use rltrade_serve::binance::fetch::{FetchRequest, fetch};
use rltrade_serve::binance::{Interval, KlinesClient};

use crate::cli::FetchArgs;

/// Retries of one page (rate limits, transport errors, 5XX) before giving up.
const MAX_RETRIES: u32 = 5;

/// Validates the flags, fetches on a tokio runtime built here, prints the summary.
///
/// # Errors
/// A bad date or interval (naming the flag); every error of the fetch, naming the
/// endpoint with the exchange's code and message, or the file.
pub fn run(args: &FetchArgs) -> anyhow::Result<ExitCode> {
    let interval = Interval::parse(&args.interval)
        .ok_or_else(|| anyhow!("--interval: `{}` is not a Binance interval ({})", args.interval, Interval::names()))?;
    let start_ms = parse_date(&args.start).map_err(|e| anyhow!("--start: {e}"))?;
    let end_ms = args.end.as_deref().map(parse_date).transpose().map_err(|e| anyhow!("--end: {e}"))?;
    if args.symbol.is_empty() || !args.symbol.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(anyhow!("--symbol: `{}` is not an exchange symbol such as BTCUSDT", args.symbol));
    }
    let request = FetchRequest {
        symbol: args.symbol.to_ascii_uppercase(),
        interval,
        start_ms,
        end_ms,
        out: args.out.clone(),
        min_gap: Duration::from_millis(args.min_gap_ms),
        max_retries: MAX_RETRIES,
    };
    let client = KlinesClient::new(&args.base_url, Duration::from_secs(args.timeout_s))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")?;
    let summary = runtime.block_on(fetch(&client, &request))?;
    print!("{summary}");
    Ok(ExitCode::SUCCESS)
}
