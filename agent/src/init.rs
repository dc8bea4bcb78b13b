//! Orthogonal weight initialization from our own seeded generator, so initial weights
//! depend only on the run's seed.
//!
//! Saxe, McClelland & Ganguli, "Exact solutions to the nonlinear dynamics of learning
//! in deep linear neural networks", ICLR 2014; the gains (√2 hidden, 0.01 policy head,
//! 1.0 value head) are those of Huang et al., "The 37 Implementation Details of PPO",
//! ICLR Blog Track 2022 (detail 2), as in CleanRL's `layer_init`.

use rand::{Rng, RngExt};

/// A `[rows, cols]` row-major matrix with orthonormal columns (if rows ≥ cols) or rows
/// (otherwise), times `gain`: the QR method of `torch.nn.init.orthogonal_` (Gaussian
/// matrix, Gram-Schmidt, signs fixed so the result is unique for a given draw).
pub fn orthogonal(rows: usize, cols: usize, gain: f64, rng: &mut impl Rng) -> Vec<f32> {
    // work on the tall orientation, transpose back at the end
    let (tall_rows, tall_cols) = if rows >= cols { (rows, cols) } else { (cols, rows) };
    let mut q: Vec<Vec<f64>> = (0..tall_cols).map(|_| (0..tall_rows).map(|_| standard_normal(rng)).collect()).collect();
    // modified Gram-Schmidt over the columns (each inner Vec is one column)
    for j in 0..tall_cols {
        for k in 0..j {
            let (done, rest) = q.split_at_mut(j);
            let dot: f64 = done[k].iter().zip(&rest[0]).map(|(a, b)| a * b).sum();
            rest[0].iter_mut().zip(&done[k]).for_each(|(x, y)| *x -= dot * y);
        }
        let norm = q[j].iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        q[j].iter_mut().for_each(|x| *x /= norm);
    }
    let mut out = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            let v = if rows >= cols { q[c][r] } else { q[r][c] };
            out[r * cols + c] = (gain * v) as f32;
        }
    }
    out
}

/// One draw of N(0, 1) by the Box-Muller transform.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn columns_or_rows_are_orthonormal_times_gain() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (rows, cols, gain) in [(8, 4, 1.0), (4, 8, 2.0f64.sqrt()), (5, 5, 0.01)] {
            let w = orthogonal(rows, cols, gain, &mut rng);
            let (n, len) = if rows >= cols { (cols, rows) } else { (rows, cols) };
            let vec = |i: usize| -> Vec<f64> {
                (0..len).map(|k| if rows >= cols { w[k * cols + i] } else { w[i * cols + k] } as f64).collect()
            };
            for i in 0..n {
                for j in 0..n {
                    let dot: f64 = vec(i).iter().zip(vec(j)).map(|(a, b)| a * b).sum();
                    let expected = if i == j { gain * gain } else { 0.0 };
                    assert!((dot - expected).abs() < 1e-5, "{rows}x{cols} ({i},{j}): {dot}");
                }
            }
        }
        let a = orthogonal(6, 3, 1.0, &mut ChaCha8Rng::seed_from_u64(9));
        let b = orthogonal(6, 3, 1.0, &mut ChaCha8Rng::seed_from_u64(9));
        assert_eq!(a, b, "same seed, same weights");
    }
}
