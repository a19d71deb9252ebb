//! Random forests (placeholder until the histogram forest lands).
use ndarray::{Array1, ArrayView1, ArrayView2};

use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct ForestParams {
    pub n_trees: usize,
    pub seed: u64,
}
impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_trees: 100,
            seed: 0,
        }
    }
}
impl ForestParams {
    pub fn check(&self) -> Result<ValidForestParams> {
        Ok(ValidForestParams(self.clone()))
    }
}
#[derive(Clone, Debug)]
pub struct ValidForestParams(ForestParams);
impl ValidForestParams {
    pub fn fit(&self, _x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<Forest> {
        Ok(Forest(y.mean().unwrap_or(0.0)))
    }
}
pub struct Forest(f64);
impl Forest {
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        Ok(Array1::from_elem(x.nrows(), self.0))
    }
}
