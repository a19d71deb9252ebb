//! The typed form of a what-if question and of its answer, as the engine sees them.
//!
//! A question ("cut TV ads by 10%, what happens to sales?") becomes [`Intervention`]s
//! (`tv_spend` × 0.9) and optional targets before it reaches the engine; the engine
//! answers with a [`WhatIfResult`]. Both serialise to the JSON of the contract in
//! `DESIGN.md` (`op` is `set`, `scale` or `shift`). Parsing user text into these
//! types happens at the edge (CLI, chat); this module only checks their shape.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How an intervention changes a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Every affected unit gets `value` (`do(x = value)`).
    Set,
    /// Every affected unit's own value is multiplied by `value` (×0.9 is "−10%").
    Scale,
    /// `value` is added to every affected unit's own value.
    Shift,
}

impl Op {
    /// The operation's name in queries.
    pub fn name(self) -> &'static str {
        match self {
            Op::Set => "set",
            Op::Scale => "scale",
            Op::Shift => "shift",
        }
    }

    /// The operator people write in `--do` (`=`, `*=`, `+=`).
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Set => "=",
            Op::Scale => "*=",
            Op::Shift => "+=",
        }
    }

    /// The value a unit with `current` gets under this operation.
    pub fn apply(self, current: f64, value: f64) -> f64 {
        match self {
            Op::Set => value,
            Op::Scale => current * value,
            Op::Shift => current + value,
        }
    }
}

/// A comparison in a [`Condition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Comparison {
    /// Equal (a number, or a category's label).
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
}

impl Comparison {
    /// The operator as people write it (`==`, `!=`, `<`, `<=`, `>`, `>=`).
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
        }
    }
}

/// The value a [`Condition`] compares with: a number, or a category's label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ConditionValue {
    /// A number (also 0/1 for a binary variable).
    Number(f64),
    /// A category's label (`north`).
    Label(String),
}

/// Restricts an intervention to the units that match (`region == north`): a
/// conditional intervention. The variable is read from the unit's observed
/// (pre-intervention) values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Condition {
    /// The variable compared.
    pub variable: String,
    /// The comparison.
    #[serde(rename = "op")]
    pub comparison: Comparison,
    /// What it is compared with.
    pub value: ConditionValue,
}

/// One change to one variable: `tv_spend` × 0.9, optionally only where a condition
/// holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Intervention {
    /// The variable changed (a lever, usually).
    pub variable: String,
    /// How it is changed.
    pub op: Op,
    /// By how much, or to what. For `set` on a categorical variable, the category's
    /// position in its level list; use [`Intervention::set_label`] to build one.
    pub value: f64,
    /// For a `set` on a categorical variable, the category's label; wins over
    /// `value` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Only units where this holds are changed; none means every unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_where: Option<Condition>,
}

impl Intervention {
    /// An intervention on every unit.
    pub fn new(variable: &str, op: Op, value: f64) -> Self {
        Intervention {
            variable: variable.to_string(),
            op,
            value,
            label: None,
            only_where: None,
        }
    }

    /// Sets a categorical variable to the category with this label.
    pub fn set_label(variable: &str, label: &str) -> Self {
        Intervention {
            label: Some(label.to_string()),
            ..Intervention::new(variable, Op::Set, f64::NAN)
        }
    }

    /// Parses `--do` text: `tv_spend*=0.9`, `price+=2`, `promo=1`, `region=north`,
    /// optionally followed by ` if region==north` (also `!=`, `<`, `<=`, `>`, `>=`).
    pub fn parse(text: &str) -> Result<Self> {
        let (action, condition) = match text.split_once(" if ") {
            Some((action, condition)) => (action, Some(parse_condition(condition)?)),
            None => (text, None),
        };
        let (variable, op, value) = if let Some((v, x)) = action.split_once("*=") {
            (v, Op::Scale, x)
        } else if let Some((v, x)) = action.split_once("+=") {
            (v, Op::Shift, x)
        } else if let Some((v, x)) = action.split_once("-=") {
            // `x-=3` is a shift by −3; the sign is folded into the value below.
            (v, Op::Shift, x)
        } else if let Some((v, x)) = action.split_once('=') {
            (v, Op::Set, x)
        } else {
            return Err(Error::invalid_input(format!(
                "cannot read the intervention `{text}`; write `variable*=0.9` (scale), `variable+=5` (shift) or `variable=3` (set)"
            )));
        };
        let variable = variable.trim();
        let value = value.trim();
        if variable.is_empty() || value.is_empty() {
            return Err(Error::invalid_input(format!(
                "cannot read the intervention `{text}`: a variable and a value are both needed"
            )));
        }
        let negate = action.contains("-=");
        let mut intervention = match value.parse::<f64>() {
            Ok(number) if number.is_finite() => {
                Intervention::new(variable, op, if negate { -number } else { number })
            }
            _ if op == Op::Set => Intervention::set_label(variable, value),
            _ => {
                return Err(Error::invalid_input(format!(
                    "`{value}` in `{text}` is not a number; only `=` accepts a category's label"
                )))
            }
        };
        intervention.only_where = condition;
        Ok(intervention)
    }

    /// The intervention as people read it: `tv_spend × 0.9`, `price + 2`,
    /// `region = north`, with its condition.
    pub fn describe(&self) -> String {
        let value = match &self.label {
            Some(label) => label.clone(),
            None => crate::format::number(self.value),
        };
        let action = match self.op {
            Op::Set => format!("{} = {value}", self.variable),
            Op::Scale => format!("{} × {value}", self.variable),
            Op::Shift => format!("{} + {value}", self.variable),
        };
        match &self.only_where {
            Some(condition) => {
                let value = match &condition.value {
                    ConditionValue::Number(x) => crate::format::number(*x),
                    ConditionValue::Label(label) => label.clone(),
                };
                format!(
                    "{action} where {} {} {value}",
                    condition.variable,
                    condition.comparison.symbol()
                )
            }
            None => action,
        }
    }
}

fn parse_condition(text: &str) -> Result<Condition> {
    // Two-character operators first, so `<=` is not read as `<`.
    const OPERATORS: [(&str, Comparison); 6] = [
        ("==", Comparison::Eq),
        ("!=", Comparison::Ne),
        ("<=", Comparison::Le),
        (">=", Comparison::Ge),
        ("<", Comparison::Lt),
        (">", Comparison::Gt),
    ];
    for (symbol, comparison) in OPERATORS {
        if let Some((variable, value)) = text.split_once(symbol) {
            let variable = variable.trim();
            let value = value.trim();
            if variable.is_empty() || value.is_empty() {
                break;
            }
            let value = match value.parse::<f64>() {
                Ok(x) if x.is_finite() => ConditionValue::Number(x),
                _ => ConditionValue::Label(value.to_string()),
            };
            return Ok(Condition {
                variable: variable.to_string(),
                comparison,
                value,
            });
        }
    }
    Err(Error::invalid_input(format!(
        "cannot read the condition `{text}`; write e.g. `region==north` or `store_size>100`"
    )))
}

/// Whether an answer is about a population or about one unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AnswerKind {
    /// The mean over the population after the intervention (`do`).
    Interventional,
    /// What this one unit's values would have been (abduction, action, prediction).
    Counterfactual,
}

impl AnswerKind {
    /// The kind's name in answers.
    pub fn name(self) -> &'static str {
        match self {
            AnswerKind::Interventional => "interventional",
            AnswerKind::Counterfactual => "counterfactual",
        }
    }
}

/// One directed path from a lever to a target and the share of the change it carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PathShare {
    /// The path's variables, lever first, target last.
    pub nodes: Vec<String>,
    /// The share of the target's change carried by this path; shares sum to 1 over a
    /// target's paths. None where no share can be computed (a categorical variable
    /// on the path, or contributions that cancel out).
    pub share: Option<f64>,
}

/// The change of one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetEffect {
    /// The target variable.
    pub target: String,
    /// Its mean (or this unit's value) without the intervention.
    pub baseline: f64,
    /// Its mean (or this unit's value) with the intervention.
    pub intervened: f64,
    /// `intervened − baseline`.
    pub change: f64,
    /// The change in percent of the baseline; none when the baseline is zero.
    pub change_pct: Option<f64>,
    /// Lower end of the 95% interval of `change`; none without bootstrap refits.
    pub ci_low: Option<f64>,
    /// Upper end of the 95% interval of `change`.
    pub ci_high: Option<f64>,
    /// The directed paths from the levers that carry the change.
    pub paths: Vec<PathShare>,
    /// How the path shares were computed (exact for linear mechanisms).
    pub path_method: String,
}

/// What the engine answers to a set of interventions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhatIfResult {
    /// Population (interventional) or one unit (counterfactual).
    pub kind: AnswerKind,
    /// The unit (row) for a counterfactual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<usize>,
    /// One entry per target that some lever reaches by a directed path.
    pub effects: Vec<TargetEffect>,
    /// Targets no directed path from any lever reaches: they cannot change.
    pub unaffected: Vec<String>,
    /// Where the answer is on thin ice, in plain words.
    pub warnings: Vec<String>,
    /// What the answer rests on, in plain words.
    pub assumptions: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn do_text_parses_each_operation() {
        let scale = Intervention::parse("tv_spend*=0.9").unwrap();
        assert_eq!(scale, Intervention::new("tv_spend", Op::Scale, 0.9));
        let shift = Intervention::parse(" price += 2 ").unwrap();
        assert_eq!(shift, Intervention::new("price", Op::Shift, 2.0));
        let down = Intervention::parse("price-=3").unwrap();
        assert_eq!(down, Intervention::new("price", Op::Shift, -3.0));
        let set = Intervention::parse("promo=1").unwrap();
        assert_eq!(set, Intervention::new("promo", Op::Set, 1.0));
        let label = Intervention::parse("region=north").unwrap();
        assert_eq!(label.label.as_deref(), Some("north"));
    }

    #[test]
    fn do_text_reads_a_condition() {
        let parsed = Intervention::parse("tv_spend*=0.9 if region==north").unwrap();
        let condition = parsed.only_where.unwrap();
        assert_eq!(condition.variable, "region");
        assert_eq!(condition.comparison, Comparison::Eq);
        assert_eq!(condition.value, ConditionValue::Label("north".into()));
        let parsed = Intervention::parse("x+=1 if size>=100").unwrap();
        let condition = parsed.only_where.unwrap();
        assert_eq!(condition.comparison, Comparison::Ge);
        assert_eq!(condition.value, ConditionValue::Number(100.0));
    }

    #[test]
    fn bad_do_text_is_refused_with_a_hint() {
        for bad in ["tv_spend", "=3", "x*=", "x*=abc", "x=1 if region"] {
            let message = Intervention::parse(bad).unwrap_err().to_string();
            assert!(!message.is_empty(), "{bad}");
        }
    }

    #[test]
    fn json_matches_the_contract() {
        let json = serde_json::to_value(Intervention::new("tv_spend", Op::Scale, 0.9)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"variable": "tv_spend", "op": "scale", "value": 0.9})
        );
    }
}
