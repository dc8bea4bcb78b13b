//! The exported policy: `policy.onnx` plus `model_card.json`, loaded and validated through
//! ONNX Runtime (`ort`). Depends on `rltrade-env` and `ort`, never on burn.
