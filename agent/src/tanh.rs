//! A branch-free f32 `tanh` that the compiler vectorizes, for the MLP's hidden layers in
//! training ([`crate::fused_linear`]) and in rollouts ([`crate::mlp`]).
//!
//! libm's scalar `tanhf` costs about 30 ns a call and cannot be vectorized; it was 40% of a
//! PPO update. This one uses the identity `tanh(a) = (1 − e) / (1 + e)` with
//! `e = exp(−2a) = 2^t`, `t = −2a·log₂e`, for `a = |x|`:
//!
//! - `2^t` splits into `2^n · 2^f` with `n = round(t)` and `f ∈ [−½, ½]`; `2^n` is built
//!   from the exponent bits and `2^f = e^u`, `u = f·ln 2 ∈ [−0.347, 0.347]`, from its Taylor
//!   polynomial of degree 7 (truncation error ≤ 0.347⁸/8! ≈ 5.6e-9, relative);
//! - `a` is clamped to 9 first (`tanh(9) = 1 − 3.0e-8` rounds to 1 in f32), so `n ≥ −26`
//!   and `2^n` stays a normal number;
//! - for `a < 1/16` the odd Taylor series `a − a³/3 + 2a⁵/15 − 17a⁷/315` is used instead,
//!   which keeps the relative error small near 0 where `1 − e` would cancel;
//! - the sign of `x` is put back, and NaN stays NaN (so divergence is still detected).
//!
//! The absolute error is at most 1e-6 over all finite f32 (measured ≤ 2.4e-7 by the tests,
//! against f64's `tanh`), which keeps the ONNX export's 1e-5 parity with ONNX Runtime's
//! `Tanh`. Its derivative is taken from the output, `1 − y²`, so the backward pass never
//! evaluates it again.

/// `log₂ e`.
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// `ln 2`.
const LN_2: f32 = std::f32::consts::LN_2;
/// Adding and subtracting `1.5 · 2²³` rounds an f32 of magnitude below 2²² to the nearest
/// integer (ties to even) with two additions that vectorize.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// Below this `|x|` the odd Taylor series is used.
const SMALL: f32 = 0.0625;
/// `|x|` is clamped here; `tanh(9)` is 1 in f32.
const CLAMP: f32 = 9.0;

/// `tanh(x)` for one f32; see the module documentation for the method and its error.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    // plain comparisons and bit operations only, so that the loop over a slice vectorizes
    // (`f32::min` and `as i32` have NaN and saturation rules that keep it scalar)
    let a = f32::from_bits(x.to_bits() & 0x7fff_ffff);
    let a = if a < CLAMP { a } else { CLAMP };
    // e = exp(−2a) = 2^t, t ∈ [−25.97, 0]; k holds round(t) in its low mantissa bits
    let t = -2.0 * LOG2_E * a;
    let k = t + ROUND_MAGIC;
    let n = k - ROUND_MAGIC;
    let u = (t - n) * LN_2;
    let p = 1.0
        + u * (1.0
            + u * (1.0 / 2.0
                + u * (1.0 / 6.0 + u * (1.0 / 24.0 + u * (1.0 / 120.0 + u * (1.0 / 720.0 + u * (1.0 / 5040.0)))))));
    let exponent = k.to_bits().wrapping_sub(ROUND_MAGIC.to_bits()).wrapping_add(127);
    let e = p * f32::from_bits(exponent << 23);
    let large = (1.0 - e) / (1.0 + e);
    let a2 = a * a;
    let small = a + a * a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 - a2 * (17.0 / 315.0)));
    let r = if a < SMALL { small } else { large };
    let r = f32::from_bits(r.to_bits() | (x.to_bits() & 0x8000_0000));
    #[allow(clippy::eq_op)] // x != x is the vectorizable NaN test
    let is_nan = x != x;
    if is_nan { x } else { r }
}

/// `tanh` of every element, in place.
///
/// On x86-64 CPUs with AVX-512F the loop runs 16 lanes wide (detected at run time; the
/// binary stays portable). The arithmetic is the same plain f32 multiplies and adds in
/// either width, so the results are the same bits.
#[inline]
pub fn tanh_in_place(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { tanh_in_place_avx512(xs) };
    }
    tanh_slice(xs);
}

#[inline(always)]
fn tanh_slice(xs: &mut [f32]) {
    for x in xs {
        *x = tanh(*x);
    }
}

/// [`tanh_slice`] compiled for AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn tanh_in_place_avx512(xs: &mut [f32]) {
    tanh_slice(xs);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(x: f32) -> f64 {
        (f64::from(tanh(x)) - f64::from(x).tanh()).abs()
    }

    #[test]
    fn the_dispatched_slice_gives_the_scalar_bits() {
        // on a CPU with AVX-512F, `tanh_in_place` runs the 16-lane build of the loop
        let xs: Vec<f32> = (0..1000).map(|k| (k as f32 - 500.0) * 0.0173).chain([0.0, -0.0, f32::NAN, 1e-30]).collect();
        let mut wide = xs.clone();
        tanh_in_place(&mut wide);
        for (x, y) in xs.iter().zip(&wide) {
            assert_eq!(y.to_bits(), tanh(*x).to_bits(), "tanh({x})");
        }
    }

    #[test]
    fn absolute_error_is_below_1e_6_everywhere() {
        // a dense grid over the range where tanh is not ±1 in f32, and its tails
        let mut worst = (0.0f64, 0.0f32);
        let mut x = -12.0f32;
        while x <= 12.0 {
            let e = error(x);
            if e > worst.0 {
                worst = (e, x);
            }
            x += 1.0 / 4096.0;
        }
        // every f32 of magnitude below 1/16 in steps of the exponent
        for bits in (0..0x3d80_0000u32).step_by(997) {
            let x = f32::from_bits(bits);
            for v in [x, -x] {
                assert!(error(v) <= 1e-6 * 1e-3 + f64::from(v.abs()) * 1e-6, "x {v}");
            }
        }
        assert!(worst.0 <= 1e-6, "worst absolute error {} at x = {}", worst.0, worst.1);
        assert!(worst.0 <= 3e-7, "error {} at {} grew: the bound in the docs is stale", worst.0, worst.1);
    }

    #[test]
    fn special_values() {
        assert_eq!(tanh(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh(1e30), 1.0);
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(tanh(f32::MIN_POSITIVE), f32::MIN_POSITIVE);
    }

    #[test]
    fn is_odd_and_monotone_on_a_grid() {
        let mut previous = tanh(-10.0);
        let mut x = -10.0f32;
        while x <= 10.0 {
            let y = tanh(x);
            assert_eq!(y, -tanh(-x), "odd at {x}");
            assert!(y >= previous, "monotone at {x}");
            previous = y;
            x += 1.0 / 1024.0;
        }
    }

    #[test]
    fn in_place_matches_the_scalar_function() {
        let xs: Vec<f32> = (0..1000).map(|k| (k as f32 - 500.0) / 37.0).collect();
        let mut ys = xs.clone();
        tanh_in_place(&mut ys);
        for (x, y) in xs.iter().zip(&ys) {
            assert_eq!(y.to_bits(), tanh(*x).to_bits());
        }
    }
}
