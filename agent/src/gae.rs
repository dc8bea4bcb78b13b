//! Generalized advantage estimation, GAE(λ): Schulman et al., "High-Dimensional
//! Continuous Control Using Generalized Advantage Estimation", ICLR 2016, eq. 16; the
//! backward recursion of CleanRL's `ppo.py`.

/// Computes advantages and returns in place.
///
/// All slices are `[n_steps, n_envs]` row-major. `ends[t, i]` is true when step t ended
/// env i's episode (terminated or truncated; truncation is bootstrapped into the reward
/// by the caller). `next_values` are the critic's values of the observations after the
/// last step, `[n_envs]`.
///
/// `δ_t = r_t + γ V(s_{t+1}) (1 − end_t) − V(s_t)`, `A_t = δ_t + γ λ (1 − end_t) A_{t+1}`,
/// `returns = A + V`.
///
/// # Panics
/// Panics if the slice lengths disagree.
#[allow(clippy::too_many_arguments)]
pub fn compute_gae(
    rewards: &[f32],
    values: &[f32],
    ends: &[bool],
    next_values: &[f32],
    n_envs: usize,
    gamma: f64,
    gae_lambda: f64,
    advantages: &mut [f32],
    returns: &mut [f32],
) {
    let n = rewards.len();
    assert!(values.len() == n && ends.len() == n && advantages.len() == n && returns.len() == n);
    assert_eq!(next_values.len(), n_envs);
    let n_steps = n / n_envs;
    for (i, &bootstrap) in next_values.iter().enumerate() {
        let mut last = 0.0f64;
        for t in (0..n_steps).rev() {
            let k = t * n_envs + i;
            let next_value = if t + 1 == n_steps { bootstrap } else { values[k + n_envs] };
            let not_end = if ends[k] { 0.0 } else { 1.0 };
            let delta = f64::from(rewards[k]) + gamma * f64::from(next_value) * not_end - f64::from(values[k]);
            last = delta + gamma * gae_lambda * not_end * last;
            advantages[k] = last as f32;
            returns[k] = (last + f64::from(values[k])) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_hand_computation_with_an_episode_end() {
        // one env, 3 steps; the episode ends at step 1
        let rewards = [1.0, 2.0, 3.0];
        let values = [0.5, 0.25, 1.0];
        let ends = [false, true, false];
        let (g, l) = (0.9, 0.8);
        let mut adv = [0.0; 3];
        let mut ret = [0.0; 3];
        compute_gae(&rewards, &values, &ends, &[2.0], 1, g, l, &mut adv, &mut ret);
        let d2 = 3.0 + g * 2.0 - 1.0;
        let d1 = 2.0 - 0.25; // the end cuts the bootstrap
        let d0 = 1.0 + g * 0.25 - 0.5;
        let expected = [d0 + g * l * d1, d1, d2];
        for k in 0..3 {
            assert!((f64::from(adv[k]) - expected[k]).abs() < 1e-6, "{k}: {adv:?} vs {expected:?}");
            assert!((ret[k] - (adv[k] + values[k])).abs() < 1e-6);
        }
    }

    #[test]
    fn envs_are_independent() {
        // two envs interleaved: [t0e0, t0e1, t1e0, t1e1]
        let mut adv = [0.0; 4];
        let mut ret = [0.0; 4];
        compute_gae(&[1.0, 0.0, 1.0, 0.0], &[0.0; 4], &[false; 4], &[0.0, 0.0], 2, 1.0, 1.0, &mut adv, &mut ret);
        assert_eq!(adv, [2.0, 0.0, 1.0, 0.0]);
    }
}
