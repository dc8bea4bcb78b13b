//! The MLP's dense layer as one burn custom operation with its own backward:
//! `y = act(x · W + b)`, registered with burn's autodiff through burn's backend-extension
//! API (`#[backend_extension(Flex, Autodiff)]`).
//!
//! Composed from burn's primitives, a hidden layer is a matmul, a broadcast bias add and a
//! `tanh`, and burn's autodiff evaluates `tanh` again in the backward pass (libm's scalar
//! `tanhf`, 40% of a PPO update). Here the forward is one matmul (burn-flex's, through
//! `gemm`) followed by one pass that adds the bias and applies the vectorized
//! [`crate::tanh`]; the backward takes the tanh's derivative from the saved output,
//! `1 − y²`, in one pass, and then uses burn's own matmul, transpose and sum:
//!
//! ```text
//! dz = dy ⊙ (1 − y²)      (dy for the identity activation)
//! dW = xᵀ · dz            [d_in, d_out]
//! db = Σ_rows dz          [d_out]
//! dx = dz · Wᵀ            [batch, d_in], only when x requires a gradient
//! ```
//!
//! The module, its parameters, the rest of the PPO loss's graph, burn's Adam and the
//! checkpoints are untouched: the layer's parameters stay a burn `Linear`'s
//! `weight: [d_in, d_out]` and `bias: [d_out]`.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Shape, Tensor, TensorData};
use rayon::prelude::*;

use crate::tanh::tanh_in_place;

/// The activation applied after the affine map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `y = z` (the output layers).
    Identity,
    /// `y = tanh(z)` (the hidden layers), with [`crate::tanh::tanh`].
    Tanh,
}

/// The fused dense layer as a backend extension: implemented for burn-flex, and for burn's
/// `Autodiff` over any backend that implements it.
#[backend_extension(Flex, Autodiff)]
pub trait FusedLinearBackend: Backend {
    /// `act(x · W + b)`.
    ///
    /// # Shapes
    /// `x`: `[batch, d_in]`, `weight`: `[d_in, d_out]`, `bias`: `[d_out]` → `[batch, d_out]`.
    ///
    /// # Panics
    /// On mismatched shapes, or a dtype other than f32 (the layers are f32).
    fn fused_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self>;

    /// The weight's gradient `xᵀ · dz`.
    ///
    /// # Shapes
    /// `x`: `[batch, d_in]`, `dz`: `[batch, d_out]` → `[d_in, d_out]`.
    fn linear_weight_grad(x: FloatTensor<Self>, dz: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(Self::float_transpose(x), dz)
    }

    /// The input's gradient `dz · Wᵀ`.
    ///
    /// # Shapes
    /// `dz`: `[batch, d_out]`, `weight`: `[d_in, d_out]` → `[batch, d_in]`.
    fn linear_input_grad(dz: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(dz, Self::float_transpose(weight))
    }

    /// The gradient through `tanh` from its output: `grad ⊙ (1 − output²)`.
    ///
    /// # Shapes
    /// `grad` and `output` of the same shape; the result has it too.
    fn tanh_backward(grad: FloatTensor<Self>, output: FloatTensor<Self>) -> FloatTensor<Self> {
        let slope = Self::float_add_scalar(Self::float_neg(Self::float_mul(output.clone(), output)), 1.0.into());
        Self::float_mul(grad, slope)
    }
}

/// `act(x · W + b)` on burn tensors; see [`FusedLinearBackend::fused_linear`].
///
/// # Shapes
/// `x`: `[batch, d_in]`, `weight`: `[d_in, d_out]`, `bias`: `[d_out]` → `[batch, d_out]`.
pub fn fused_linear(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>, activation: Activation) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FusedLinearBackend>::fused_linear(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        activation,
    ))
}

/// Rows per shard of a batch: a batch of `m` rows is cut into `ceil(m / SHARD_ROWS)`
/// shards of near-equal size, whatever the number of threads, and the shards' partial
/// weight gradients are summed in shard order, so that 1 or N threads give the same bits.
///
/// 64 rather than 32: SB3's minibatch of 64 is then one shard, whose matmuls pack each
/// weight once and whose output is the matmul's own buffer (measured in the README's
/// performance section).
pub const SHARD_ROWS: usize = 64;

/// The row ranges of the shards of a batch of `rows` rows (see [`SHARD_ROWS`]).
pub fn shards(rows: usize) -> Vec<std::ops::Range<usize>> {
    let n = rows.div_ceil(SHARD_ROWS).max(1);
    (0..n).map(|k| k * rows / n..(k + 1) * rows / n).collect()
}

/// A contiguous f32 view of `t`, copying only when `t` is a strided view.
fn contiguous(t: FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "fused_linear: f32 tensors only, got {:?}", t.dtype());
    if t.as_slice::<f32>().is_some() { t } else { t.to_contiguous() }
}

/// Splits `out` (`rows × width`, row-major) at the shard boundaries.
fn split_rows<'a>(mut out: &'a mut [f32], ranges: &[std::ops::Range<usize>], width: usize) -> Vec<&'a mut [f32]> {
    ranges
        .iter()
        .map(|r| {
            let (head, tail) = std::mem::take(&mut out).split_at_mut(r.len() * width);
            out = tail;
            head
        })
        .collect()
}

/// `rows × width` f32 from one matmul per shard, run on the current rayon pool; `finish`
/// then works in place on each shard's rows of the output (bias and activation). A batch
/// of one shard keeps the matmul's own buffer as the output: no zeroing, no copy.
fn sharded_rows(
    rows: usize,
    width: usize,
    product: impl Fn(std::ops::Range<usize>) -> FlexTensor + Sync,
    finish: impl Fn(&mut [f32]) + Sync,
) -> FlexTensor {
    let ranges = shards(rows);
    if let [only] = ranges.as_slice() {
        let mut z = owned(product(only.clone()));
        finish(z.storage_mut::<f32>());
        return z;
    }
    let mut out = vec![0.0f32; rows * width];
    let parts = split_rows(&mut out, &ranges, width);
    parts.into_par_iter().zip(ranges).for_each(|(part, range)| {
        let z = contiguous(product(range));
        part.copy_from_slice(z.as_slice::<f32>().expect("contiguous"));
        finish(part);
    });
    FlexTensor::from_data(TensorData::new(out, [rows, width]))
}

/// `t` with a buffer of its own that holds exactly its elements in order, so that
/// `storage_mut` neither copies nor reaches outside it; copies only when it must.
fn owned(t: FlexTensor) -> FlexTensor {
    let t = contiguous(t);
    let n = t.shape().num_elements();
    if t.is_unique() && t.layout().contiguous_offsets() == Some((0, n)) && t.storage::<f32>().len() == n {
        t
    } else {
        FlexTensor::from_data(t.into_data())
    }
}

impl FusedLinearBackend for Flex {
    fn fused_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, activation: Activation) -> FlexTensor {
        let bias = contiguous(bias);
        let (x_shape, w_shape) = (x.shape(), weight.shape());
        let d_out = bias.shape()[0];
        assert!(x_shape.num_dims() == 2 && w_shape.num_dims() == 2, "fused_linear: x and the weight must be 2-d");
        assert_eq!(w_shape[1], d_out, "fused_linear: weight [d_in, {}] vs bias [{d_out}]", w_shape[1]);
        let bias = bias.as_slice::<f32>().expect("contiguous");
        sharded_rows(
            x_shape[0],
            d_out,
            |rows| Flex::float_matmul(x.narrow(0, rows.start, rows.len()), weight.clone()),
            |out| {
                for row in out.chunks_exact_mut(d_out) {
                    row.iter_mut().zip(bias).for_each(|(o, b)| *o += b);
                }
                if activation == Activation::Tanh {
                    tanh_in_place(out);
                }
            },
        )
    }

    fn linear_weight_grad(x: FlexTensor, dz: FlexTensor) -> FlexTensor {
        let (rows, d_in, d_out) = (x.shape()[0], x.shape()[1], dz.shape()[1]);
        let ranges = shards(rows);
        let partials: Vec<FlexTensor> = ranges
            .into_par_iter()
            .map(|r| {
                let x_t = x.narrow(0, r.start, r.len()).transpose(0, 1);
                contiguous(Flex::float_matmul(x_t, dz.narrow(0, r.start, r.len())))
            })
            .collect();
        // the sum in shard order, whatever thread computed each partial
        let mut partials = partials.into_iter();
        let mut sum = partials.next().expect("at least one shard");
        let total = sum.storage_mut::<f32>();
        for partial in partials {
            total.iter_mut().zip(partial.as_slice::<f32>().expect("contiguous")).for_each(|(t, p)| *t += p);
        }
        debug_assert_eq!(total.len(), d_in * d_out);
        sum
    }

    fn linear_input_grad(dz: FlexTensor, weight: FlexTensor) -> FlexTensor {
        let (rows, d_in) = (dz.shape()[0], weight.shape()[0]);
        let weight_t = weight.transpose(0, 1);
        sharded_rows(rows, d_in, |r| Flex::float_matmul(dz.narrow(0, r.start, r.len()), weight_t.clone()), |_| {})
    }

    fn tanh_backward(grad: FlexTensor, output: FlexTensor) -> FlexTensor {
        assert_eq!(grad.shape(), output.shape(), "tanh_backward: shapes differ");
        let mut grad = contiguous(grad);
        let output = contiguous(output);
        let y = output.as_slice::<f32>().expect("contiguous");
        grad.storage_mut::<f32>().iter_mut().zip(y).for_each(|(g, y)| *g *= 1.0 - y * y);
        grad
    }
}

/// What the backward pass of [`FusedLinearBackend::fused_linear`] keeps from the forward:
/// only what the requested gradients need.
#[derive(Clone, Debug)]
struct FusedLinearState<B: Backend> {
    /// `x`, for `dW` (kept when the weight is tracked).
    x: Option<FloatTensor<B>>,
    /// `W`, for `dx` (kept when `x` is tracked).
    weight: Option<FloatTensor<B>>,
    /// `y`, for the tanh's derivative.
    output: Option<FloatTensor<B>>,
    /// `d_out`, for the shape of `db`.
    d_out: usize,
}

/// The backward step of the fused layer (stateless; its state is [`FusedLinearState`]).
#[derive(Debug)]
struct FusedLinearBackward;

impl<B: Backend + FusedLinearBackend> Backward<B, 3> for FusedLinearBackward {
    type State = FusedLinearState<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [x_node, weight_node, bias_node] = ops.parents;
        let state = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let dz = match state.output {
            Some(output) => B::tanh_backward(grad, output),
            None => grad,
        };
        if let Some(node) = bias_node {
            let db = B::float_reshape(B::float_sum_dim(dz.clone(), 0), Shape::new([state.d_out]));
            grads.register::<B>(node.id, db);
        }
        if let (Some(node), Some(x)) = (weight_node, state.x) {
            grads.register::<B>(node.id, B::linear_weight_grad(x, dz.clone()));
        }
        if let (Some(node), Some(weight)) = (x_node, state.weight) {
            grads.register::<B>(node.id, B::linear_input_grad(dz, weight));
        }
    }
}

impl<B: Backend + FusedLinearBackend, C: CheckpointStrategy> FusedLinearBackend for Autodiff<B, C> {
    fn fused_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self> {
        let (x_tracked, weight_tracked) = (x.is_tracked(), weight.is_tracked());
        let d_out = bias.primitive().shape()[0];
        let prep = FusedLinearBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful();
        let (x, weight, bias) = (x.into_primitive(), weight.into_primitive(), bias.into_primitive());
        match prep {
            OpsKind::Tracked(prep) => {
                let state_x = weight_tracked.then(|| x.clone());
                let state_weight = x_tracked.then(|| weight.clone());
                let output = B::fused_linear(x, weight, bias, activation);
                let state_output = (activation == Activation::Tanh).then(|| output.clone());
                let state = FusedLinearState { x: state_x, weight: state_weight, output: state_output, d_out };
                prep.finish(state, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_linear(x, weight, bias, activation)),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn random(shape: [usize; 2], rng: &mut ChaCha8Rng, device: &Device) -> Tensor<2> {
        let data: Vec<f32> = (0..shape[0] * shape[1]).map(|_| rng.random_range(-1.5f32..1.5)).collect();
        Tensor::from_data(TensorData::new(data, shape), device)
    }

    fn host(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    fn host1(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol, "{what}[{k}]: {x} vs {y}");
        }
    }

    /// The custom operation's forward and gradients (x, W, b) against burn's own autodiff
    /// of the same layer built from burn's matmul, add and tanh.
    fn check_against_plain_layers(activation: Activation, x_requires_grad: bool) {
        // 40 rows: one shard (the matmul's buffer is the output); 140 rows: three shards
        for batch in [40, 140] {
            check_against_plain_layers_at(batch, activation, x_requires_grad);
        }
    }

    fn check_against_plain_layers_at(batch: usize, activation: Activation, x_requires_grad: bool) {
        let device = Device::flex().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (d_in, d_out) = (37, 11);
        let x0 = random([batch, d_in], &mut rng, &device);
        let w0 = random([d_in, d_out], &mut rng, &device);
        let b0 = random([1, d_out], &mut rng, &device).reshape([d_out]);
        let r = random([batch, d_out], &mut rng, &device);

        let run = |fused: bool| {
            let x = if x_requires_grad { x0.clone().require_grad() } else { x0.clone() };
            let (w, b) = (w0.clone().require_grad(), b0.clone().require_grad());
            let y = if fused {
                fused_linear(x.clone(), w.clone(), b.clone(), activation)
            } else {
                let z = x.clone().matmul(w.clone()) + b.clone().unsqueeze::<2>();
                match activation {
                    Activation::Tanh => z.tanh(),
                    Activation::Identity => z,
                }
            };
            // a second layer on top, so dy is not all ones
            let loss = (y.clone() * r.clone()).sum();
            let grads = loss.backward();
            let dx = x_requires_grad.then(|| host(x.grad(&grads).unwrap()));
            (host(y), dx, host(w.grad(&grads).unwrap()), host1(b.grad(&grads).unwrap()))
        };
        let (y_fused, dx_fused, dw_fused, db_fused) = run(true);
        let (y_plain, dx_plain, dw_plain, db_plain) = run(false);
        assert_close("y", &y_fused, &y_plain, 1e-6);
        assert_close("dW", &dw_fused, &dw_plain, 1e-5);
        assert_close("db", &db_fused, &db_plain, 1e-5);
        match (dx_fused, dx_plain) {
            (Some(a), Some(b)) => assert_close("dx", &a, &b, 1e-5),
            (None, None) => {}
            _ => panic!("dx tracked in one run only"),
        }
    }

    #[test]
    fn tanh_layer_gradients_match_burns_autodiff() {
        check_against_plain_layers(Activation::Tanh, true);
        check_against_plain_layers(Activation::Tanh, false);
    }

    #[test]
    fn identity_layer_gradients_match_burns_autodiff() {
        check_against_plain_layers(Activation::Identity, true);
    }

    #[test]
    fn shards_cover_the_batch_in_order() {
        assert_eq!(shards(1), vec![0..1]);
        assert_eq!(shards(64), vec![0..64]);
        assert_eq!(shards(65), vec![0..32, 32..65]);
        assert_eq!(shards(140), vec![0..46, 46..93, 93..140]);
        assert_eq!(shards(0), vec![0..0]);
    }

    #[test]
    fn one_or_several_threads_give_the_same_bits() {
        let device = Device::flex().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // 200 rows: four shards of 50
        let x = random([200, 29], &mut rng, &device);
        let w = random([29, 17], &mut rng, &device);
        let b = random([1, 17], &mut rng, &device).reshape([17]);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let (x, w, b) = (x.clone().require_grad(), w.clone().require_grad(), b.clone().require_grad());
                let y = fused_linear(x.clone(), w.clone(), b.clone(), Activation::Tanh);
                let grads = y.clone().square().sum().backward();
                [host(y), host(x.grad(&grads).unwrap()), host(w.grad(&grads).unwrap()), host1(b.grad(&grads).unwrap())]
                    .map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
            })
        };
        let one = run(1);
        assert!(one == run(2) && one == run(3), "the thread count changed a bit");
    }

    #[test]
    fn runs_without_autodiff() {
        let device = Device::flex();
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0], [1, 2]), &device);
        let w = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.0, -1.0], [2, 2]), &device);
        let b = Tensor::<1>::from_data(TensorData::new(vec![0.5f32, 0.0], [2]), &device);
        let y = host(fused_linear(x, w, b, Activation::Tanh));
        assert_close("y", &y, &[1.5f32.tanh(), (-2.0f32).tanh()], 1e-6);
    }

    #[test]
    fn two_stacked_layers_match_burns_autodiff() {
        // gradients flow through the first layer's output into the second's input
        let device = Device::flex().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = random([9, 6], &mut rng, &device);
        let w1 = random([6, 5], &mut rng, &device);
        let w2 = random([5, 2], &mut rng, &device);
        let b1 = random([1, 5], &mut rng, &device).reshape([5]);
        let b2 = random([1, 2], &mut rng, &device).reshape([2]);
        let run = |fused: bool| {
            let (w1, w2, b1, b2) = (
                w1.clone().require_grad(),
                w2.clone().require_grad(),
                b1.clone().require_grad(),
                b2.clone().require_grad(),
            );
            let out = if fused {
                let h = fused_linear(x.clone(), w1.clone(), b1.clone(), Activation::Tanh);
                fused_linear(h, w2.clone(), b2.clone(), Activation::Identity)
            } else {
                let h = (x.clone().matmul(w1.clone()) + b1.clone().unsqueeze::<2>()).tanh();
                h.matmul(w2.clone()) + b2.clone().unsqueeze::<2>()
            };
            let grads = out.square().sum().backward();
            (host(w1.grad(&grads).unwrap()), host1(b1.grad(&grads).unwrap()), host(w2.grad(&grads).unwrap()))
        };
        let (a, b) = (run(true), run(false));
        assert_close("dW1", &a.0, &b.0, 1e-5);
        assert_close("db1", &a.1, &b.1, 1e-5);
        assert_close("dW2", &a.2, &b.2, 1e-5);
    }
}
