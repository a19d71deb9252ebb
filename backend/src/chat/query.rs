//! [`WhatIfQuery`]: the typed form of a what-if question, as the chat hands it to the
//! planner, and its validation against one model.
//!
//! The JSON is the contract of `DESIGN.md`:
//! `{"model": "retail@3", "interventions": [{"variable": "tv_spend", "op": "scale",
//! "value": 0.9}], "targets": ["sales"]}`. The interventions are the engine's own
//! [`Intervention`] type, so there is one definition of `set`/`scale`/`shift` in the
//! code base. Whatever produced a query — the offline parser, a language model, or a
//! client of the JSON API — it goes through [`WhatIfQuery::validate`] before the
//! planner sees it: names that the model does not have are refused with the nearest
//! name, never silently replaced.

use causeway_estimators::error::closest_name;
use causeway_estimators::model::{ModelDocument, VariableKind};
use causeway_estimators::scm::{ConditionValue, Intervention, Op};
use serde::{Deserialize, Serialize};

/// A what-if question in typed form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhatIfQuery {
    /// The model asked about (`retail`, `retail@3`); none means the default model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The changes made to the levers, at least one.
    pub interventions: Vec<Intervention>,
    /// The variables whose change is wanted; none means every KPI downstream of the
    /// levers ("which KPIs are affected?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// A unit (row) for a counterfactual question about one unit; none asks about
    /// the population.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<usize>,
}

impl WhatIfQuery {
    /// A population question about every KPI downstream of `interventions`, on the
    /// default model.
    pub fn new(interventions: Vec<Intervention>) -> Self {
        WhatIfQuery {
            model: None,
            interventions,
            targets: None,
            unit: None,
        }
    }

    /// Checks the query against `model`: at least one intervention; every variable
    /// (levers, conditions, targets) exists; values are finite; the operation fits
    /// the variable's kind (only `set` on a categorical or binary variable, and a
    /// binary one only to 0 or 1; a category label only on a categorical variable).
    /// The first problem found is returned, with the nearest existing name where
    /// there is one.
    pub fn validate(&self, model: &ModelDocument) -> Result<(), QueryError> {
        if self.interventions.is_empty() {
            return Err(QueryError::NoInterventions);
        }
        let find = |name: &str| model.variables.iter().find(|v| v.name == name);
        let unknown = |name: &str, target: bool| QueryError::UnknownVariable {
            name: name.to_string(),
            suggestion: closest_name(name, model.variables.iter().map(|v| v.name.as_str()))
                .map(str::to_string),
            target,
        };
        for intervention in &self.interventions {
            let name = intervention.variable.as_str();
            let variable = find(name).ok_or_else(|| unknown(name, false))?;
            let op = intervention.op;
            if intervention.label.is_some() {
                if variable.kind != VariableKind::Categorical || op != Op::Set {
                    return Err(QueryError::WrongOperation {
                        variable: name.to_string(),
                        reason: "only a categorical variable can be set to a category's label"
                            .into(),
                    });
                }
            } else if !intervention.value.is_finite() {
                return Err(QueryError::NotFinite {
                    variable: name.to_string(),
                });
            }
            match (variable.kind, op) {
                (VariableKind::Continuous, _) | (VariableKind::Categorical, Op::Set) => {}
                (VariableKind::Binary, Op::Set) => {
                    if intervention.value != 0.0 && intervention.value != 1.0 {
                        return Err(QueryError::WrongOperation {
                            variable: name.to_string(),
                            reason: "it is binary: set it to 0 or 1".into(),
                        });
                    }
                }
                (kind, op) => {
                    return Err(QueryError::WrongOperation {
                        variable: name.to_string(),
                        reason: format!(
                            "it is {}, so it can only be set (`{name}=…`), not {}d",
                            kind.name(),
                            op.name()
                        ),
                    })
                }
            }
            if let Some(condition) = &intervention.only_where {
                let condition_variable =
                    find(&condition.variable).ok_or_else(|| unknown(&condition.variable, false))?;
                if let ConditionValue::Number(x) = condition.value {
                    if !x.is_finite() {
                        return Err(QueryError::NotFinite {
                            variable: condition_variable.name.clone(),
                        });
                    }
                }
            }
        }
        for target in self.targets.iter().flatten() {
            find(target).ok_or_else(|| unknown(target, true))?;
        }
        Ok(())
    }

    /// The query as people read it: `tv_spend × 0.9 → sales`.
    pub fn describe(&self) -> String {
        let levers: Vec<String> = self.interventions.iter().map(|i| i.describe()).collect();
        match &self.targets {
            Some(targets) => format!("{} → {}", levers.join(", "), targets.join(", ")),
            None => format!("{} → every KPI downstream", levers.join(", ")),
        }
    }
}

/// Why a [`WhatIfQuery`] does not fit a model. The messages say what to change.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query changes nothing.
    #[error(
        "the question changes nothing: name a lever and how it changes (e.g. `tv_spend*=0.9`)"
    )]
    NoInterventions,
    /// A lever, condition or target that the model does not have.
    #[error("the model has no variable `{name}`{}", did_you_mean(.suggestion))]
    UnknownVariable {
        /// The name asked for.
        name: String,
        /// The nearest name the model has, if any is close.
        suggestion: Option<String>,
        /// Whether the name was asked for as a target (otherwise as a lever).
        target: bool,
    },
    /// The operation does not fit the variable's kind.
    #[error("`{variable}` cannot be changed that way: {reason}")]
    WrongOperation {
        /// The variable.
        variable: String,
        /// Why, in plain words.
        reason: String,
    },
    /// A value that is not a finite number.
    #[error("the value for `{variable}` is not a finite number")]
    NotFinite {
        /// The variable.
        variable: String,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use causeway_estimators::model::{CausalEdge, Role, Variable};

    /// The small retail model the chat's tests share: levers, a mediator, KPIs and
    /// context variables, with labels and aliases in English and Traditional
    /// Chinese.
    pub(crate) fn retail_model() -> ModelDocument {
        let var = |name: &str, label: &str, aliases: &[&str], role, kind| Variable {
            label: label.to_string(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            ..Variable::new(name, role, kind)
        };
        use Role::*;
        use VariableKind::*;
        let variables = vec![
            var("season", "season", &["季節"], Context, Categorical),
            var("region", "region", &["地區", "區域"], Context, Categorical),
            var(
                "tv_spend",
                "TV advertising",
                &["TV ads", "TV", "television", "電視廣告", "電視"],
                Lever,
                Continuous,
            ),
            var(
                "search_spend",
                "search advertising",
                &[
                    "search ads",
                    "search",
                    "paid search",
                    "搜尋廣告",
                    "關鍵字廣告",
                ],
                Lever,
                Continuous,
            ),
            var(
                "price",
                "price",
                &["價格", "售價", "定價"],
                Lever,
                Continuous,
            ),
            var(
                "promo",
                "promotion",
                &["promo", "promotions", "促銷"],
                Lever,
                Binary,
            ),
            var(
                "safety_stock",
                "inventory safety factor",
                &["safety stock", "庫存安全係數", "安全庫存"],
                Lever,
                Continuous,
            ),
            var(
                "store_visits",
                "store visits",
                &["visits", "foot traffic", "來店人數", "來客數"],
                Mediator,
                Continuous,
            ),
            var(
                "sales",
                "store sales",
                &["門市銷售", "sales", "銷售額"],
                Kpi,
                Continuous,
            ),
            var("returns", "returns", &["退貨", "退貨率"], Kpi, Continuous),
            var(
                "stockouts",
                "stockouts",
                &["缺貨", "out of stock"],
                Kpi,
                Continuous,
            ),
            var(
                "margin",
                "gross margin",
                &["毛利", "margin"],
                Kpi,
                Continuous,
            ),
        ];
        let edges = [
            ("tv_spend", "store_visits"),
            ("tv_spend", "sales"),
            ("search_spend", "store_visits"),
            ("store_visits", "sales"),
            ("price", "sales"),
            ("price", "margin"),
            ("promo", "sales"),
            ("promo", "returns"),
            ("sales", "returns"),
            ("safety_stock", "stockouts"),
            ("stockouts", "sales"),
            ("season", "sales"),
            ("region", "tv_spend"),
        ]
        .iter()
        .map(|(s, t)| CausalEdge::new(s, t))
        .collect();
        ModelDocument {
            model_id: "retail@1".into(),
            name: "retail".into(),
            version: 1,
            created_at: "2024-01-01T00:00:00Z".into(),
            dataset_sha256: String::new(),
            n_rows: 0,
            method: "scm-linear".into(),
            assumptions: Vec::new(),
            mechanisms: None,
            variables,
            edges,
            created_by: None,
        }
    }

    #[test]
    fn json_matches_the_contract() {
        let text = r#"{"model": "retail@3",
            "interventions": [{"variable": "tv_spend", "op": "scale", "value": 0.9}],
            "targets": ["sales"]}"#;
        let query: WhatIfQuery = serde_json::from_str(text).unwrap();
        assert_eq!(query.model.as_deref(), Some("retail@3"));
        assert_eq!(
            query.interventions,
            vec![Intervention::new("tv_spend", Op::Scale, 0.9)]
        );
        assert_eq!(query.targets, Some(vec!["sales".to_string()]));
        assert_eq!(query.unit, None);
        let minimal: WhatIfQuery = serde_json::from_str(
            r#"{"interventions": [{"variable": "price", "op": "set", "value": 12}]}"#,
        )
        .unwrap();
        assert_eq!(minimal.model, None);
        assert_eq!(minimal.targets, None);
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            serde_json::json!({"interventions": [{"variable": "price", "op": "set", "value": 12.0}]})
        );
    }

    #[test]
    fn a_valid_query_passes() {
        let model = retail_model();
        let mut query = WhatIfQuery::new(vec![
            Intervention::new("tv_spend", Op::Scale, 0.9),
            Intervention::new("promo", Op::Set, 1.0),
            Intervention::set_label("region", "north"),
        ]);
        query.targets = Some(vec!["sales".into(), "returns".into()]);
        assert_eq!(query.validate(&model), Ok(()));
    }

    #[test]
    fn unknown_names_get_the_nearest_one() {
        let model = retail_model();
        let query = WhatIfQuery::new(vec![Intervention::new("tv_spnd", Op::Scale, 0.9)]);
        let err = query.validate(&model).unwrap_err();
        assert_eq!(
            err,
            QueryError::UnknownVariable {
                name: "tv_spnd".into(),
                suggestion: Some("tv_spend".into()),
                target: false
            }
        );
        assert!(err.to_string().contains("did you mean `tv_spend`"), "{err}");
        let mut query = WhatIfQuery::new(vec![Intervention::new("tv_spend", Op::Scale, 0.9)]);
        query.targets = Some(vec!["profit".into()]);
        assert!(matches!(
            query.validate(&model),
            Err(QueryError::UnknownVariable {
                target: true,
                suggestion: None,
                ..
            })
        ));
    }

    #[test]
    fn operations_must_fit_the_kind() {
        let model = retail_model();
        for bad in [
            "region*=0.9",
            "region+=1",
            "promo*=2",
            "promo=0.5",
            "price=cheap",
        ] {
            let query = WhatIfQuery::new(vec![Intervention::parse(bad).unwrap()]);
            assert!(
                matches!(
                    query.validate(&model),
                    Err(QueryError::WrongOperation { .. })
                ),
                "{bad}"
            );
        }
        let query = WhatIfQuery::new(vec![Intervention::new("price", Op::Shift, f64::NAN)]);
        assert!(matches!(
            query.validate(&model),
            Err(QueryError::NotFinite { .. })
        ));
        assert_eq!(
            WhatIfQuery::new(vec![]).validate(&model),
            Err(QueryError::NoInterventions)
        );
    }
}
