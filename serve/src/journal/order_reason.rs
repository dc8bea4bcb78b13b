//! [`OrderReason`]: why a journaled order exists, as the `orders.purpose` column spells it.

use serde::{Deserialize, Serialize};

use super::spelling::journal_spelling;

/// Why an order exists (`orders.purpose`): a strategy's signal, the risk layer's
/// liquidation, or a protective exit. A fill carries its order's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderReason {
    /// A strategy's new target (`signal`).
    Signal,
    /// Closing the position after a halt or the kill switch (`liquidation`).
    Liquidation,
    /// The stop-loss level was hit (`stop_loss`).
    StopLoss,
    /// The take-profit level was hit (`take_profit`).
    TakeProfit,
    /// The trailing stop was hit (`trailing_stop`).
    TrailingStop,
    /// The time stop closed the position (`max_holding`).
    MaxHolding,
}

impl OrderReason {
    /// Every reason.
    pub const ALL: [OrderReason; 6] = [
        OrderReason::Signal,
        OrderReason::Liquidation,
        OrderReason::StopLoss,
        OrderReason::TakeProfit,
        OrderReason::TrailingStop,
        OrderReason::MaxHolding,
    ];

    /// The journal's spelling, the same as its serde form (for protective exits,
    /// [`rltrade_exec::ExitReason::name`]).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderReason::Signal => "signal",
            OrderReason::Liquidation => "liquidation",
            OrderReason::StopLoss => "stop_loss",
            OrderReason::TakeProfit => "take_profit",
            OrderReason::TrailingStop => "trailing_stop",
            OrderReason::MaxHolding => "max_holding",
        }
    }
}

journal_spelling!(OrderReason, "order reason");

impl From<rltrade_exec::OrderPurpose> for OrderReason {
    fn from(purpose: rltrade_exec::OrderPurpose) -> Self {
        match purpose {
            rltrade_exec::OrderPurpose::Signal => OrderReason::Signal,
            rltrade_exec::OrderPurpose::Liquidation => OrderReason::Liquidation,
        }
    }
}

impl From<rltrade_exec::ExitReason> for OrderReason {
    fn from(reason: rltrade_exec::ExitReason) -> Self {
        use rltrade_exec::ExitReason;
        match reason {
            ExitReason::StopLoss => OrderReason::StopLoss,
            ExitReason::TakeProfit => OrderReason::TakeProfit,
            ExitReason::TrailingStop => OrderReason::TrailingStop,
            ExitReason::MaxHolding => OrderReason::MaxHolding,
            ExitReason::Signal => OrderReason::Signal,
            ExitReason::RiskLiquidation => OrderReason::Liquidation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderReason;
    use rltrade_exec::ExitReason;

    #[test]
    fn protective_exits_are_spelled_as_their_exit_reason() {
        for reason in ExitReason::ALL.into_iter().filter(|r| r.is_protective()) {
            let parsed: OrderReason = reason.name().parse().unwrap_or_else(|e| panic!("{}: {e}", reason.name()));
            assert_eq!(parsed, OrderReason::from(reason));
        }
        assert!("bogus".parse::<OrderReason>().unwrap_err().to_string().contains("order reason"));
    }
}
