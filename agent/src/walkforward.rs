//! Walk-forward evaluation: K folds, each trained, selected and exported on its own
//! windows and tested on the next out-of-sample window; their test windows joined into
//! one stitched out-of-sample curve.

pub mod folds;
pub mod report;
pub mod stitch;
