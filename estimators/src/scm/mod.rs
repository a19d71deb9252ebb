//! Structural causal models: one mechanism per variable of a DAG, fitted on data,
//! answering interventional and counterfactual what-if questions.

pub mod query;

pub use query::{
    AnswerKind, Comparison, Condition, ConditionValue, Intervention, Op, PathShare, TargetEffect,
    WhatIfResult,
};
