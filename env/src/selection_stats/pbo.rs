//! The Probability of Backtest Overfitting (PBO), estimated by combinatorially symmetric
//! cross-validation (CSCV): how often the configuration that looks best in sample ranks
//! in the bottom half out of sample.
//!
//! Source: D. H. Bailey, J. M. Borwein, M. López de Prado and Q. J. Zhu (2017), "The
//! Probability of Backtest Overfitting", *Journal of Computational Finance* 20(4),
//! 39–69, the CSCV procedure:
//! 1. M, a T × N matrix of per-bar returns, one column per configuration (trial);
//! 2. its rows cut into S (even) contiguous blocks;
//! 3. every combination c of S/2 blocks is a training (in-sample) set J, the other S/2
//!    blocks its testing (out-of-sample) set J̄, C(S, S/2) combinations in all;
//! 4. for each c: n* = the configuration with the best Sharpe ratio on J; ω̄_c = its
//!    rank among the N Sharpe ratios on J̄ divided by N + 1 (rank N = best); the logit
//!    λ_c = ln(ω̄_c / (1 − ω̄_c));
//! 5. PBO = ∫_{−∞}^{0} f(λ) dλ, here the share of combinations with λ_c ≤ 0.
//!
//! Conventions this implementation fixes (the paper leaves them open):
//! - Blocks: block s holds rows ⌊s·T/S⌋ .. ⌊(s+1)·T/S⌋ (end excluded), so block sizes
//!   differ by at most one row when S does not divide T and no row is dropped.
//! - Sharpe ratio of a set of rows: mean / std with ddof 1 over the set's rows (the
//!   blocks concatenated), per bar. Where the set's sample variance is 0 (a flat
//!   configuration, or a single row), it is 0 if the mean is 0 and +∞ or −∞ with the
//!   mean's sign otherwise (the limit of mean/σ as σ → 0), so it still ranks.
//! - Ties in sample: n* is the lowest column index among the best.
//! - Ties out of sample: n*'s rank is its mid-rank, (number strictly below) + (number
//!   equal, n* included, + 1) / 2, so ω̄ ∈ (0, 1) and λ is finite.
//! - λ = 0 (n* exactly at the out-of-sample median, possible when N is odd or with ties)
//!   counts as overfit, as the closed upper bound of ∫_{−∞}^{0} says: a selection no
//!   better than the median has not shown skill.

use serde::{Deserialize, Serialize};

/// The number of partitions S the paper uses in its examples, 16: C(16, 8) = 12,870
/// combinations.
pub const DEFAULT_PARTITIONS: usize = 16;

/// The largest S accepted: C(24, 12) = 2,704,156 combinations, 21 MB of logits. S = 26
/// would be 10.4 million.
pub const MAX_PARTITIONS: usize = 24;

/// Why the PBO could not be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PboError {
    /// Fewer than 2 configurations: there is no selection to judge.
    #[error("PBO needs at least 2 configurations (columns), got {n_configs}")]
    TooFewConfigurations {
        /// Columns given.
        n_configs: usize,
    },
    /// Fewer than 2 partitions.
    #[error("PBO needs at least 2 partitions, got {partitions}")]
    TooFewPartitions {
        /// S given.
        partitions: usize,
    },
    /// An odd number of partitions: they cannot split into equal halves.
    #[error("the number of partitions must be even, got {partitions}")]
    OddPartitions {
        /// S given.
        partitions: usize,
    },
    /// More partitions than [`MAX_PARTITIONS`].
    #[error("at most {max} partitions are supported (C(S, S/2) combinations), got {partitions}")]
    TooManyPartitions {
        /// S given.
        partitions: usize,
        /// [`MAX_PARTITIONS`].
        max: usize,
    },
    /// The returns slice is not a whole number of rows of `n_configs` columns.
    #[error("{len} returns do not form rows of {n_configs} configurations")]
    RaggedMatrix {
        /// Length of the slice.
        len: usize,
        /// Columns given.
        n_configs: usize,
    },
    /// Fewer rows than partitions: some block would be empty.
    #[error("{rows} rows cannot be cut into {partitions} partitions")]
    TooFewRows {
        /// Rows T.
        rows: usize,
        /// S given.
        partitions: usize,
    },
    /// A return is NaN or infinite.
    #[error("return at row {row}, configuration {column} is not finite ({value})")]
    NonFinite {
        /// 0-based row (bar).
        row: usize,
        /// 0-based column (configuration).
        column: usize,
        /// The value.
        value: f64,
    },
}

/// The PBO of a set of configurations, with the logits for a histogram of f(λ).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pbo {
    /// Probability of backtest overfitting: the share of combinations whose in-sample
    /// best configuration has logit λ ≤ 0 out of sample, in [0, 1]. About 1/2 when no
    /// configuration has skill, near 0 when one truly dominates.
    pub pbo: f64,
    /// Combinations evaluated, C(S, S/2).
    pub n_combinations: usize,
    /// λ_c = ln(ω̄_c / (1 − ω̄_c)) of each combination, `[n_combinations]`, in
    /// lexicographic order of the in-sample block sets ({0, 1, …, S/2 − 1} first).
    /// Each lies in [−ln N, ln N]; λ > 0 means the in-sample best beat the out-of-sample
    /// median.
    pub logits: Vec<f64>,
    /// Rows T (bars) of the matrix.
    pub n_rows: usize,
    /// Columns N (configurations) of the matrix.
    pub n_configs: usize,
    /// Partitions S.
    pub partitions: usize,
}

/// C(n, k), exact for the sizes [`MAX_PARTITIONS`] allows.
fn binomial(n: usize, k: usize) -> usize {
    (0..k).fold(1usize, |acc, i| acc * (n - i) / (i + 1))
}

/// Row range of block `s` of `partitions` over `rows` rows.
fn block_rows(s: usize, rows: usize, partitions: usize) -> std::ops::Range<usize> {
    s * rows / partitions..(s + 1) * rows / partitions
}

/// Per-block, per-configuration count, mean and sum of squared deviations, so that the
/// Sharpe ratio of any union of blocks follows without touching the rows again.
struct BlockMoments {
    /// Rows per block, `[S]`.
    count: Vec<f64>,
    /// Mean of each block and configuration, `[S, N]` row-major.
    mean: Vec<f64>,
    /// Σ (r − block mean)², `[S, N]` row-major.
    sum_sq: Vec<f64>,
}

impl BlockMoments {
    fn new(returns: &[f64], rows: usize, n_configs: usize, partitions: usize) -> Self {
        let mut count = Vec::with_capacity(partitions);
        let mut mean = vec![0.0; partitions * n_configs];
        let mut sum_sq = vec![0.0; partitions * n_configs];
        for s in 0..partitions {
            let range = block_rows(s, rows, partitions);
            let c = range.len();
            count.push(c as f64);
            let block = &returns[range.start * n_configs..range.end * n_configs];
            let mean_s = &mut mean[s * n_configs..(s + 1) * n_configs];
            // The mean around the block's first row: exact for a constant column.
            let first = &block[..n_configs];
            for row in block.chunks_exact(n_configs) {
                for ((m, &r), &f) in mean_s.iter_mut().zip(row).zip(first) {
                    *m += r - f;
                }
            }
            for (m, &f) in mean_s.iter_mut().zip(first) {
                *m = f + *m / c as f64;
            }
            let sum_sq_s = &mut sum_sq[s * n_configs..(s + 1) * n_configs];
            for row in block.chunks_exact(n_configs) {
                for ((q, &r), &m) in sum_sq_s.iter_mut().zip(row).zip(mean_s.iter()) {
                    *q += (r - m) * (r - m);
                }
            }
        }
        Self { count, mean, sum_sq }
    }

    /// Sharpe ratio (mean / std, ddof 1) of configuration `config` over the union of
    /// `blocks` holding `total` rows: the blocks' means and squared deviations combine as
    /// mean = Σ cₛ·meanₛ / total, Σd² = Σ (Σd²ₛ + cₛ (meanₛ − mean)²) (the exact
    /// decomposition of the sum of squares into within- and between-block parts).
    fn sharpe(&self, blocks: &[usize], total: f64, config: usize, n_configs: usize) -> f64 {
        let mean = blocks.iter().map(|&s| self.count[s] * self.mean[s * n_configs + config]).sum::<f64>() / total;
        let sum_sq = blocks
            .iter()
            .map(|&s| {
                let i = s * n_configs + config;
                let d = self.mean[i] - mean;
                self.sum_sq[i] + self.count[s] * d * d
            })
            .sum::<f64>();
        if total >= 2.0 && sum_sq > 0.0 {
            mean / (sum_sq / (total - 1.0)).sqrt()
        } else if mean > 0.0 {
            f64::INFINITY
        } else if mean < 0.0 {
            f64::NEG_INFINITY
        } else {
            0.0
        }
    }
}

/// Advances `chosen` (strictly increasing indices into 0..n) to the next combination in
/// lexicographic order; false after the last.
fn next_combination(chosen: &mut [usize], n: usize) -> bool {
    let k = chosen.len();
    let Some(i) = (0..k).rev().find(|&i| chosen[i] < n - k + i) else {
        return false;
    };
    chosen[i] += 1;
    for j in i + 1..k {
        chosen[j] = chosen[j - 1] + 1;
    }
    true
}

/// Probability of Backtest Overfitting of `n_configs` = N configurations by CSCV over
/// `partitions` = S blocks (see the [module documentation](self) for the procedure, its
/// source and the tie conventions; [`DEFAULT_PARTITIONS`] = 16 is the paper's choice).
///
/// `returns` is the T × N matrix of per-bar simple returns, row-major (`[T, N]`: the
/// return of configuration n at bar t is `returns[t * n_configs + n]`), all
/// configurations over the same bars. Cost: one pass over the matrix, then
/// O(C(S, S/2) · S · N) with no allocation per combination.
///
/// # Errors
/// [`PboError::TooFewConfigurations`] for N < 2; [`PboError::TooFewPartitions`],
/// [`PboError::OddPartitions`], [`PboError::TooManyPartitions`] for S < 2, S odd,
/// S > [`MAX_PARTITIONS`]; [`PboError::RaggedMatrix`] when the length is not a multiple
/// of N; [`PboError::TooFewRows`] for T < S; [`PboError::NonFinite`] for a NaN or
/// infinite return.
pub fn probability_of_backtest_overfitting(
    returns: &[f64],
    n_configs: usize,
    partitions: usize,
) -> Result<Pbo, PboError> {
    if n_configs < 2 {
        return Err(PboError::TooFewConfigurations { n_configs });
    }
    if partitions < 2 {
        return Err(PboError::TooFewPartitions { partitions });
    }
    if partitions % 2 != 0 {
        return Err(PboError::OddPartitions { partitions });
    }
    if partitions > MAX_PARTITIONS {
        return Err(PboError::TooManyPartitions { partitions, max: MAX_PARTITIONS });
    }
    if returns.len() % n_configs != 0 {
        return Err(PboError::RaggedMatrix { len: returns.len(), n_configs });
    }
    let rows = returns.len() / n_configs;
    if rows < partitions {
        return Err(PboError::TooFewRows { rows, partitions });
    }
    if let Some((i, &value)) = returns.iter().enumerate().find(|(_, r)| !r.is_finite()) {
        return Err(PboError::NonFinite { row: i / n_configs, column: i % n_configs, value });
    }

    let moments = BlockMoments::new(returns, rows, n_configs, partitions);
    let half = partitions / 2;
    let n_combinations = binomial(partitions, half);
    let mut logits = Vec::with_capacity(n_combinations);
    let mut overfit = 0usize;

    let mut in_sample: Vec<usize> = (0..half).collect();
    let mut out_of_sample: Vec<usize> = Vec::with_capacity(half);
    let mut oos_sharpe = vec![0.0; n_configs];
    // Twice N + 1, so that twice a mid-rank (an integer) compares exactly.
    let two_n_plus_1 = 2 * (n_configs + 1);
    loop {
        out_of_sample.clear();
        out_of_sample.extend((0..partitions).filter(|s| !in_sample.contains(s)));
        let is_rows: f64 = in_sample.iter().map(|&s| moments.count[s]).sum();
        let oos_rows = rows as f64 - is_rows;

        let mut best = 0;
        let mut best_sharpe = f64::NEG_INFINITY;
        for (config, oos) in oos_sharpe.iter_mut().enumerate() {
            let is = moments.sharpe(&in_sample, is_rows, config, n_configs);
            if config == 0 || is > best_sharpe {
                best = config;
                best_sharpe = is;
            }
            *oos = moments.sharpe(&out_of_sample, oos_rows, config, n_configs);
        }
        let chosen = oos_sharpe[best];
        let below = oos_sharpe.iter().filter(|&&s| s < chosen).count();
        let equal = oos_sharpe.iter().filter(|&&s| s == chosen).count();
        // Twice the mid-rank: 2·below + equal + 1, in 2..=2N.
        let twice_rank = 2 * below + equal + 1;
        logits.push((twice_rank as f64 / (two_n_plus_1 - twice_rank) as f64).ln());
        if 2 * twice_rank <= two_n_plus_1 {
            overfit += 1;
        }

        if !next_combination(&mut in_sample, partitions) {
            break;
        }
    }
    debug_assert_eq!(logits.len(), n_combinations);
    Ok(Pbo { pbo: overfit as f64 / n_combinations as f64, n_combinations, logits, n_rows: rows, n_configs, partitions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection_stats::sharpe::sharpe_per_bar;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Standard normal draws by Box–Muller from a seeded ChaCha8 stream.
    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
        let u2 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A `[rows, n_configs]` row-major matrix of N(drift[n], 0.01²) returns.
    fn noise(seed: u64, rows: usize, n_configs: usize, drift: impl Fn(usize) -> f64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..rows * n_configs).map(|i| drift(i % n_configs) + 0.01 * gaussian(&mut rng)).collect()
    }

    /// CSCV written the slow, obvious way: copy the rows of each set and take
    /// `sharpe_per_bar` of each column; the same rank and logit conventions.
    fn brute_force(returns: &[f64], n_configs: usize, partitions: usize) -> (f64, Vec<f64>) {
        let rows = returns.len() / n_configs;
        let column_sharpe = |blocks: &[usize], config: usize| {
            let series: Vec<f64> = blocks
                .iter()
                .flat_map(|&s| block_rows(s, rows, partitions))
                .map(|t| returns[t * n_configs + config])
                .collect();
            sharpe_per_bar(&series).unwrap()
        };
        let mut chosen: Vec<usize> = (0..partitions / 2).collect();
        let (mut logits, mut overfit) = (Vec::new(), 0);
        loop {
            let rest: Vec<usize> = (0..partitions).filter(|s| !chosen.contains(s)).collect();
            let is: Vec<f64> = (0..n_configs).map(|n| column_sharpe(&chosen, n)).collect();
            let oos: Vec<f64> = (0..n_configs).map(|n| column_sharpe(&rest, n)).collect();
            let best = (0..n_configs).fold(0, |b, n| if is[n] > is[b] { n } else { b });
            let rank = oos.iter().filter(|&&s| s <= oos[best]).count() as f64; // no ties in noise
            let omega = rank / (n_configs as f64 + 1.0);
            logits.push((omega / (1.0 - omega)).ln());
            if omega <= 0.5 {
                overfit += 1;
            }
            if !next_combination(&mut chosen, partitions) {
                break;
            }
        }
        (overfit as f64 / logits.len() as f64, logits)
    }

    #[test]
    fn combination_counts() {
        assert_eq!(binomial(16, 8), 12_870);
        assert_eq!(binomial(2, 1), 2);
        assert_eq!(binomial(24, 12), 2_704_156);
        let mut chosen = vec![0, 1];
        let mut all = vec![chosen.clone()];
        while next_combination(&mut chosen, 4) {
            all.push(chosen.clone());
        }
        assert_eq!(all, [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]);
    }

    #[test]
    fn blocks_cover_every_row_once() {
        for (rows, partitions) in [(1600, 16), (1601, 16), (17, 16), (16, 16), (5, 2)] {
            let sizes: Vec<usize> = (0..partitions).map(|s| block_rows(s, rows, partitions).len()).collect();
            assert_eq!(sizes.iter().sum::<usize>(), rows);
            assert_eq!(block_rows(0, rows, partitions).start, 0);
            assert!(sizes.iter().all(|&c| c == rows / partitions || c == rows / partitions + 1), "{sizes:?}");
        }
    }

    /// On pure noise no configuration has skill, so the out-of-sample rank of any
    /// in-sample pick is uniform and E[PBO] = 1/2; but one data set's PBO is a single
    /// draw with a wide spread, because all C(16, 8) combinations reuse the same bars.
    /// Observed over seeds 1..=300 of this generator (T = 1600, N = 20, S = 16): mean
    /// 0.507, standard deviation 0.200, quartiles 0.37 and 0.65, 5th and 95th
    /// percentiles 0.157 and 0.836; only 197 of 300 within 0.3..0.7 (seed 3: 0.155). So
    /// the band is asserted on the mean of 10 seeds (standard deviation about 0.063).
    #[test]
    fn pure_noise_is_a_coin_flip() {
        let (rows, n_configs) = (1600, 20);
        let mut observed = Vec::new();
        let start = std::time::Instant::now();
        for seed in 1..=10 {
            let returns = noise(seed, rows, n_configs, |_| 0.0);
            let result = probability_of_backtest_overfitting(&returns, n_configs, DEFAULT_PARTITIONS).unwrap();
            assert_eq!(result.n_combinations, 12_870);
            assert_eq!(result.logits.len(), 12_870);
            assert_eq!((result.n_rows, result.n_configs, result.partitions), (rows, n_configs, 16));
            let bound = (n_configs as f64).ln();
            assert!(result.logits.iter().all(|l| l.abs() <= bound + 1e-12));
            // N even and no ties: λ = 0 cannot occur, the pick beats the median or not.
            assert!(result.logits.iter().all(|&l| l != 0.0));
            observed.push(result.pbo);
        }
        let mean = observed.iter().sum::<f64>() / observed.len() as f64;
        eprintln!("noise: PBO of seeds 1..=10 {observed:.3?}, mean {mean:.4}, in {:?}", start.elapsed());
        assert!((0.3..=0.7).contains(&mean), "mean PBO {mean} on pure noise");
        assert!(observed.iter().all(|&p| p > 0.02 && p < 0.98), "a degenerate PBO on noise: {observed:?}");
    }

    #[test]
    fn a_planted_edge_is_never_overfit() {
        // Configuration 7 drifts 0.5 noise std per bar: a per-bar Sharpe of 0.5 against
        // noise whose Sharpe over 800 bars has std 0.035.
        let (rows, n_configs) = (1600, 20);
        let returns = noise(42, rows, n_configs, |n| if n == 7 { 0.005 } else { 0.0 });
        let result = probability_of_backtest_overfitting(&returns, n_configs, DEFAULT_PARTITIONS).unwrap();
        assert_eq!(result.pbo, 0.0);
        // Best in sample, best out of sample, every time: ω̄ = N/(N+1), λ = ln N.
        assert!(result.logits.iter().all(|&l| l == (n_configs as f64).ln()));
    }

    #[test]
    fn matches_the_brute_force_computation() {
        // 61 rows: blocks of 10 and 11 rows.
        let (rows, n_configs, partitions) = (61, 5, 6);
        for seed in [7, 8, 9] {
            let returns = noise(seed, rows, n_configs, |n| 0.0002 * n as f64);
            let fast = probability_of_backtest_overfitting(&returns, n_configs, partitions).unwrap();
            let (pbo, logits) = brute_force(&returns, n_configs, partitions);
            assert_eq!(fast.n_combinations, 20);
            assert_eq!(fast.pbo, pbo, "seed {seed}");
            // The same ranks; the logits differ only by the rounding of ω̄/(1 − ω̄).
            assert!(fast.logits.iter().zip(&logits).all(|(a, b)| (a - b).abs() < 1e-14), "seed {seed}");
            eprintln!("brute force, seed {seed}: PBO {pbo}, logits {logits:.3?}");
        }
    }

    #[test]
    fn block_moments_give_the_sharpe_of_the_concatenated_rows() {
        let (rows, n_configs, partitions) = (103, 3, 8);
        let returns = noise(5, rows, n_configs, |n| 0.002 * n as f64 - 0.001);
        let moments = BlockMoments::new(&returns, rows, n_configs, partitions);
        let blocks = [1, 4, 5, 7];
        let total: f64 = blocks.iter().map(|&s| moments.count[s]).sum();
        for config in 0..n_configs {
            let series: Vec<f64> = blocks
                .iter()
                .flat_map(|&s| block_rows(s, rows, partitions))
                .map(|t| returns[t * n_configs + config])
                .collect();
            let direct = sharpe_per_bar(&series).unwrap();
            let combined = moments.sharpe(&blocks, total, config, n_configs);
            assert!((combined - direct).abs() < 1e-13 * direct.abs().max(1.0), "{combined} vs {direct}");
        }
    }

    /// Two configurations, two halves: each is good in one half only, so whichever wins
    /// in sample loses out of sample, in both combinations.
    #[test]
    fn hand_made_reversal_and_persistence() {
        // Rows: (A, B). A wins the first half, B the second.
        let reversal = [0.02, -0.01, 0.01, -0.02, -0.01, 0.02, -0.02, 0.01];
        let result = probability_of_backtest_overfitting(&reversal, 2, 2).unwrap();
        // Rank 1 of 2: ω̄ = 1/3, λ = ln(1/2).
        assert_eq!(result.logits, [0.5f64.ln(), 0.5f64.ln()]);
        assert_eq!((result.pbo, result.n_combinations), (1.0, 2));

        // A wins both halves.
        let persistence = [0.02, -0.01, 0.01, -0.02, 0.02, -0.01, 0.01, -0.02];
        let result = probability_of_backtest_overfitting(&persistence, 2, 2).unwrap();
        assert_eq!(result.logits, [2f64.ln(), 2f64.ln()]);
        assert_eq!(result.pbo, 0.0);
    }

    /// Identical configurations: the first wins in sample by the tie rule, and out of
    /// sample all tie, so its mid-rank is (N + 1)/2, λ = 0, counted as overfit.
    #[test]
    fn ties_sit_at_the_median_and_count_as_overfit() {
        let column = noise(1, 40, 1, |_| 0.0);
        let returns: Vec<f64> = column.iter().flat_map(|&r| [r, r, r]).collect();
        let result = probability_of_backtest_overfitting(&returns, 3, 4).unwrap();
        assert!(result.logits.iter().all(|&l| l == 0.0));
        assert_eq!(result.pbo, 1.0);

        // All-flat configurations (never trading): Sharpe 0 by the zero-variance
        // convention everywhere, so all tie as well.
        let flat = vec![0.0; 40 * 2];
        let result = probability_of_backtest_overfitting(&flat, 2, 4).unwrap();
        assert_eq!(result.pbo, 1.0);
        assert!(result.logits.iter().all(|&l| l == 0.0));
    }

    #[test]
    fn invalid_inputs_are_typed_errors() {
        let ok = vec![0.0; 32 * 2];
        let cases: [(&[f64], usize, usize, PboError); 8] = [
            (&ok, 1, 16, PboError::TooFewConfigurations { n_configs: 1 }),
            (&[], 0, 16, PboError::TooFewConfigurations { n_configs: 0 }),
            (&ok, 2, 0, PboError::TooFewPartitions { partitions: 0 }),
            (&ok, 2, 1, PboError::TooFewPartitions { partitions: 1 }),
            (&ok, 2, 15, PboError::OddPartitions { partitions: 15 }),
            (&ok, 2, 26, PboError::TooManyPartitions { partitions: 26, max: MAX_PARTITIONS }),
            (&ok[..63], 2, 16, PboError::RaggedMatrix { len: 63, n_configs: 2 }),
            (&ok[..30], 2, 16, PboError::TooFewRows { rows: 15, partitions: 16 }),
        ];
        for (returns, n_configs, partitions, want) in cases {
            assert_eq!(probability_of_backtest_overfitting(returns, n_configs, partitions), Err(want));
        }
        let mut bad = ok.clone();
        bad[2 * 5 + 1] = f64::NAN;
        assert!(matches!(
            probability_of_backtest_overfitting(&bad, 2, 16),
            Err(PboError::NonFinite { row: 5, column: 1, value }) if value.is_nan()
        ));
        // Exactly S rows is enough: one row per block.
        assert!(probability_of_backtest_overfitting(&ok[..32], 2, 16).is_ok());
    }

    #[test]
    fn serializes_for_reports() {
        let result = probability_of_backtest_overfitting(&noise(2, 20, 2, |_| 0.0), 2, 2).unwrap();
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["n_combinations"], 2);
        assert_eq!(json["logits"].as_array().unwrap().len(), 2);
    }
}
