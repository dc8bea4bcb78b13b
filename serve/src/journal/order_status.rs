//! [`OrderStatus`]: where a journaled order stands, as the `orders.status` column spells it.

use serde::{Deserialize, Serialize};

use super::spelling::journal_spelling;

/// The status of a journaled order (`orders.status`). Every order starts `pending` and
/// ends `filled`, `no_fill`, `cancelled` or `rejected`; an exchange broker may leave it
/// `open` or `unknown` in between. The spellings are those journals have always held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Approved and journaled, not yet filled or sent (`pending`).
    Pending,
    /// Accepted by the exchange, not filled yet: it stays the account's pending order (`open`).
    Open,
    /// Filled; its fill is in the `fills` table (`filled`).
    Filled,
    /// Closed without a fill: the fill model or the order's sizing would not trade it
    /// (`no_fill`; the reason says why).
    NoFill,
    /// Cancelled before it filled, by the kill switch (`cancelled`).
    Cancelled,
    /// Refused by the exchange (`rejected`; the reason holds its code and message).
    Rejected,
    /// Sent, and neither the answer nor the broker's own query told what became of it
    /// (`unknown`): the strategy is halted, and a restart sends it again under the same
    /// client order id once the broker has looked it up and found the exchange without it.
    Unknown,
}

impl OrderStatus {
    /// Every status, in the order of an order's life.
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Pending,
        OrderStatus::Open,
        OrderStatus::Filled,
        OrderStatus::NoFill,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
        OrderStatus::Unknown,
    ];

    /// The journal's spelling (`pending`, `open`, `filled`, `no_fill`, `cancelled`,
    /// `rejected`, `unknown`), the same as its serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Open => "open",
            OrderStatus::Filled => "filled",
            OrderStatus::NoFill => "no_fill",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Unknown => "unknown",
        }
    }
}

journal_spelling!(OrderStatus, "order status");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_str_and_serde() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>().unwrap(), status);
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(status.to_string(), status.as_str());
        }
        let err = "canceled".parse::<OrderStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown order status `canceled`");
    }
}
