//! The exported policy as an ONNX graph, built through the protobuf types of
//! `tract_onnx::pb` (never hand-written protobuf bytes).
//!
//! The graph is the actor only: `obs` `[batch, obs_dim]` f32 → Gemm → Tanh → … → Gemm →
//! `logits` `[batch, n_actions]` → Softmax (last axis) → `probs`. burn's `Linear` computes
//! `y = x·W + b` with `W` `[d_in, d_out]`, which is ONNX `Gemm` with `transB = 0`, so the
//! weights are written unchanged (little-endian `raw_data`). Names are readable
//! (`actor.0.weight`, `actor.0.tanh`, …); the batch dimension is the symbol `batch`.
//! Nothing in the file depends on the clock: the same weights give the same bytes.
//!
//! Operators: ONNX opset 17 (Gemm-13, Tanh-13, Softmax-13), IR version 8.

use prost::Message;
use rltrade_policy::model_card::{INPUT_OBS, OUTPUT_LOGITS, OUTPUT_PROBS};
use tract_onnx::pb;

use crate::mlp::Mlp;

/// The ONNX opset the graph imports.
pub const OPSET: i64 = 17;
/// The ONNX IR version of the file (the one that goes with opset 17).
pub const IR_VERSION: i64 = 8;

const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;

/// The serialized ONNX model of `actor` (`[obs_dim] → [n_actions]` logits, tanh between
/// layers), with outputs `probs` and `logits`.
pub fn policy_onnx(actor: &Mlp) -> Vec<u8> {
    policy_model(actor).encode_to_vec()
}

/// The ONNX model of `actor` as protobuf types.
pub fn policy_model(actor: &Mlp) -> pb::ModelProto {
    let mut nodes = Vec::new();
    let mut initializers = Vec::new();
    let mut input = INPUT_OBS.to_string();
    let last = actor.layers.len() - 1;
    for (k, layer) in actor.layers.iter().enumerate() {
        let (w, b) = (format!("actor.{k}.weight"), format!("actor.{k}.bias"));
        initializers.push(tensor(&w, &[layer.d_in, layer.d_out], &layer.weight));
        initializers.push(tensor(&b, &[layer.d_out], &layer.bias));
        let gemm_out = if k == last { OUTPUT_LOGITS.to_string() } else { format!("actor.{k}.gemm") };
        nodes.push(node(&format!("actor.{k}.gemm"), "Gemm", &[&input, &w, &b], &gemm_out, vec![]));
        if k == last {
            input = gemm_out;
        } else {
            let tanh_out = format!("actor.{k}.tanh");
            nodes.push(node(&tanh_out, "Tanh", &[&gemm_out], &tanh_out, vec![]));
            input = tanh_out;
        }
    }
    let axis = pb::AttributeProto {
        name: "axis".into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: -1,
        ..Default::default()
    };
    nodes.push(node("softmax", "Softmax", &[OUTPUT_LOGITS], OUTPUT_PROBS, vec![axis]));
    let n_actions = actor.d_out();
    let graph = pb::GraphProto {
        name: "rltrade_policy".into(),
        node: nodes,
        initializer: initializers,
        doc_string: "Greedy trading policy: action probabilities and logits of one observation per row".into(),
        input: vec![matrix(INPUT_OBS, actor.d_in(), "observations: window × features + position features")],
        output: vec![
            matrix(OUTPUT_PROBS, n_actions, "action probabilities (softmax of logits)"),
            matrix(OUTPUT_LOGITS, n_actions, "action logits"),
        ],
        ..Default::default()
    };
    pb::ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "rltrade".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: "rltrade".into(),
        model_version: 1,
        graph: Some(graph),
        ..Default::default()
    }
}

fn node(name: &str, op: &str, inputs: &[&str], output: &str, attribute: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| (*s).to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn tensor(name: &str, dims: &[usize], values: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: FLOAT,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A `[batch, columns]` f32 graph input or output.
fn matrix(name: &str, columns: usize, doc: &str) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    let dim = |value| Dimension { value: Some(value), ..Default::default() };
    let shape =
        pb::TensorShapeProto { dim: vec![dim(Value::DimParam("batch".into())), dim(Value::DimValue(columns as i64))] };
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: FLOAT,
                shape: Some(shape),
            })),
            ..Default::default()
        }),
        doc_string: doc.into(),
    }
}
