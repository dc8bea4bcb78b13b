-- rltrade journal, format 1. Tables keyed by (strategy, time) are WITHOUT ROWID: one b-tree per insert. Times are ms since epoch UTC; money in the quote currency.
-- Columns named *_wall_ms or latency_us hold wall-clock values (they differ between runs).
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
-- Every bar fed to the strategies, warm-up included (phase 'warmup' or 'traded').
CREATE TABLE IF NOT EXISTS bars (
    time_ms INTEGER PRIMARY KEY, open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL,
    close REAL NOT NULL, volume REAL NOT NULL, phase TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS signals (
    strategy TEXT NOT NULL, bar_ms INTEGER NOT NULL, symbol TEXT NOT NULL, model_sha256 TEXT NOT NULL,
    action INTEGER NOT NULL, target_exposure REAL NOT NULL, probs TEXT NOT NULL, invalid_output INTEGER NOT NULL,
    latency_us INTEGER NOT NULL, PRIMARY KEY (strategy, bar_ms)
) STRICT, WITHOUT ROWID;
-- The risk check of every signal that asked for a new target, and every liquidation.
CREATE TABLE IF NOT EXISTS risk_decisions (
    strategy TEXT NOT NULL, bar_ms INTEGER NOT NULL, order_id INTEGER NOT NULL, requested REAL NOT NULL,
    outcome TEXT NOT NULL, approved REAL, reason TEXT, PRIMARY KEY (strategy, order_id)
) STRICT, WITHOUT ROWID;
-- Approved orders; journaled in the transaction of the bar they were decided at, before any broker sees them.
-- status (OrderStatus): pending, then filled | no_fill | cancelled | rejected; an exchange broker may set open
-- (accepted, not filled) or unknown (fate unknown: the strategy halts, a restart re-sends). status_reason says why.
CREATE TABLE IF NOT EXISTS orders (
    strategy TEXT NOT NULL, order_id INTEGER NOT NULL, client_order_id TEXT NOT NULL UNIQUE,
    decided_bar_ms INTEGER NOT NULL, purpose TEXT NOT NULL, target_exposure REAL NOT NULL,
    reference_price REAL NOT NULL, status TEXT NOT NULL, status_reason TEXT, PRIMARY KEY (strategy, order_id)
) STRICT;
CREATE TABLE IF NOT EXISTS fills (
    strategy TEXT NOT NULL, order_id INTEGER NOT NULL, time_ms INTEGER NOT NULL, side TEXT NOT NULL,
    quantity REAL NOT NULL, price REAL NOT NULL, reference_price REAL NOT NULL, fee REAL NOT NULL,
    PRIMARY KEY (strategy, order_id)
) STRICT, WITHOUT ROWID;
-- Equity marked at each traded bar's close; trading_state is the state the risk check
-- applies (ACTIVE, REDUCING or HALTED; HALTED while the kill switch is engaged).
CREATE TABLE IF NOT EXISTS equity (
    strategy TEXT NOT NULL, bar_ms INTEGER NOT NULL, equity REAL NOT NULL, cash REAL NOT NULL,
    position REAL NOT NULL, exposure REAL NOT NULL, trading_state TEXT NOT NULL, PRIMARY KEY (strategy, bar_ms)
) STRICT, WITHOUT ROWID;
-- Positions: each strategy's whole account (portfolio, risk state and halts, kill switch, pending order)
-- as of the last committed bar, in CBOR (exact f64): what a restart restores.
CREATE TABLE IF NOT EXISTS accounts (strategy TEXT PRIMARY KEY, bar_ms INTEGER NOT NULL, account BLOB NOT NULL) STRICT;
-- The operator's log. kind (EventKind): restart | reconciliation | trading_state | kill | resume | feed | reload |
-- order_rejected | order_unknown | protection.
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, bar_ms INTEGER, strategy TEXT, kind TEXT NOT NULL, message TEXT NOT NULL,
    at_wall_ms INTEGER NOT NULL
) STRICT;
-- Protective orders held by the exchange: one OCO order list per protected position (a stop-market leg and a
-- take-profit leg, client ids <list>s and <list>t), journaled before it is sent. status (ProtectionStatus): pending,
-- then placed | rejected | refused; a placed list ends stop_filled | take_profit_filled | cancelled | expired.
CREATE TABLE IF NOT EXISTS protections (
    list_client_order_id TEXT PRIMARY KEY, strategy TEXT NOT NULL, entry_order_id INTEGER NOT NULL,
    replacement INTEGER NOT NULL, long INTEGER NOT NULL, quantity REAL NOT NULL, stop REAL NOT NULL,
    take_profit REAL NOT NULL, decided_bar_ms INTEGER, status TEXT NOT NULL, status_reason TEXT
) STRICT;
-- Alerts for the operator ([serve.alerts]), written in the transaction of what they report, and only while a
-- destination is configured. alert: JSON (rltrade_serve::alerts::Alert). Delivered at least once, in id order,
-- to each destination; how far each got is kept in the `<journal>-alerts` file beside the journal.
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, bar_ms INTEGER, alert TEXT NOT NULL, at_wall_ms INTEGER NOT NULL
) STRICT;
