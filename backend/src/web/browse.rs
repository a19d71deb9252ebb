//! The model browser: what is stored, what each version says, and what changed.
//!
//! - `GET /models`: every model with its versions, their dates, authors (the token
//!   or `--author` that saved each, when recorded) and what each document records
//!   about its making (method, rows, data set).
//! - `GET /models/{name}` (the latest version) and `GET /models/{name}@{version}`:
//!   the graph drawn in layers ([`svg::model_picture`]), the variables with their
//!   support statistics, mechanism and held-out fit, the effects with their 95%
//!   intervals, the GraphML download and links to the other versions.
//! - `GET /models/{reference}/graphml`: exactly what `causeway export` prints.
//! - `GET /models/{name}/diff?from=1&to=2`: variables and edges added or removed,
//!   and effects that moved beyond their intervals ([`diff`], pure and tested).
//!
//! A malformed reference is a 400 and an unknown model or version a 404, each a
//! page that says what is stored; store failures are an opaque 500, logged.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use causeway_estimators::format::number;
use causeway_estimators::io::graphml::write_model;
use causeway_estimators::model::{CausalEdge, ModelDocument, Role};
use serde::{Deserialize, Serialize};

use super::chat::{internal, render};
use super::svg;
use super::AppState;
use crate::store::{validate_name, ModelRef, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/models", get(list_page))
        .route("/models/{reference}", get(model_page))
        .route("/models/{reference}/graphml", get(graphml))
        .route("/models/{name}/diff", get(diff_page))
}

/// What changed from one model version to another.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ModelDiff {
    /// Variables only the newer version has, in its order.
    pub variables_added: Vec<String>,
    /// Variables only the older version has, in its order.
    pub variables_removed: Vec<String>,
    /// Variables in both whose role differs.
    pub roles_changed: Vec<RoleChange>,
    /// Edges only the newer version has, with its estimates.
    pub edges_added: Vec<CausalEdge>,
    /// Edges only the older version has, with its estimates.
    pub edges_removed: Vec<CausalEdge>,
    /// Edges in both whose effect moved beyond an interval: the new effect lies
    /// outside the old 95% interval, or the old effect outside the new one.
    pub effects_changed: Vec<EffectChange>,
    /// Edges in both whose effects differ but that no interval can judge (neither
    /// version has one, or one version has no effect).
    pub effects_not_compared: Vec<EffectChange>,
}

/// A variable whose role changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoleChange {
    /// The variable's name.
    pub name: String,
    /// Its role in the older version.
    pub from: Role,
    /// Its role in the newer version.
    pub to: Role,
}

/// One edge in both versions, with each version's estimate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EffectChange {
    /// The older version's edge.
    pub old: CausalEdge,
    /// The newer version's edge.
    pub new: CausalEdge,
}

impl ModelDiff {
    /// Whether the two versions are the same graph with compatible effects.
    pub fn is_empty(&self) -> bool {
        self.variables_added.is_empty()
            && self.variables_removed.is_empty()
            && self.roles_changed.is_empty()
            && self.edges_added.is_empty()
            && self.edges_removed.is_empty()
            && self.effects_changed.is_empty()
            && self.effects_not_compared.is_empty()
    }
}

/// What changed from `old` to `new`.
pub fn diff(old: &ModelDocument, new: &ModelDocument) -> ModelDiff {
    let old_roles: BTreeMap<&str, Role> = old
        .variables
        .iter()
        .map(|v| (v.name.as_str(), v.role))
        .collect();
    let new_roles: BTreeMap<&str, Role> = new
        .variables
        .iter()
        .map(|v| (v.name.as_str(), v.role))
        .collect();
    let key = |e: &CausalEdge| (e.source.clone(), e.target.clone());
    let old_edges: BTreeMap<(String, String), &CausalEdge> =
        old.edges.iter().map(|e| (key(e), e)).collect();
    let new_keys: BTreeSet<(String, String)> = new.edges.iter().map(key).collect();

    let mut out = ModelDiff {
        variables_added: new
            .variables
            .iter()
            .filter(|v| !old_roles.contains_key(v.name.as_str()))
            .map(|v| v.name.clone())
            .collect(),
        variables_removed: old
            .variables
            .iter()
            .filter(|v| !new_roles.contains_key(v.name.as_str()))
            .map(|v| v.name.clone())
            .collect(),
        roles_changed: new
            .variables
            .iter()
            .filter_map(|v| {
                let from = *old_roles.get(v.name.as_str())?;
                (from != v.role).then(|| RoleChange {
                    name: v.name.clone(),
                    from,
                    to: v.role,
                })
            })
            .collect(),
        edges_removed: old
            .edges
            .iter()
            .filter(|e| !new_keys.contains(&key(e)))
            .cloned()
            .collect(),
        ..ModelDiff::default()
    };
    for edge in &new.edges {
        let Some(&before) = old_edges.get(&key(edge)) else {
            out.edges_added.push(edge.clone());
            continue;
        };
        let change = EffectChange {
            old: before.clone(),
            new: edge.clone(),
        };
        match beyond_intervals(before, edge) {
            Some(true) => out.effects_changed.push(change),
            Some(false) => {}
            None if before.effect != edge.effect => out.effects_not_compared.push(change),
            None => {}
        }
    }
    out
}

/// Whether either effect lies outside the other version's 95% interval; `None`
/// when no interval can say (an effect is missing, or neither side has an interval).
fn beyond_intervals(old: &CausalEdge, new: &CausalEdge) -> Option<bool> {
    let (old_effect, new_effect) = (old.effect?, new.effect?);
    let outside = |effect: f64, edge: &CausalEdge| match (edge.ci_low, edge.ci_high) {
        (Some(low), Some(high)) => Some(effect < low || effect > high),
        _ => None,
    };
    match (outside(new_effect, old), outside(old_effect, new)) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
    }
}

/// One version in the list of models.
#[derive(Debug, Serialize)]
struct VersionRow {
    version: u32,
    model_id: String,
    created_at: String,
    method: String,
    n_rows: u64,
    variables: usize,
    edges: usize,
    /// The first 12 hex digits of the data set's SHA-256.
    dataset: String,
    /// Who saved it, when recorded.
    author: Option<String>,
}

/// One model name in the list.
#[derive(Debug, Serialize)]
struct ModelRow {
    name: String,
    latest_created_at: String,
    /// Newest first.
    versions: Vec<VersionRow>,
}

async fn list_page(State(state): State<AppState>) -> Response {
    let summaries = match state.store.list().await {
        Ok(summaries) => summaries,
        Err(e) => return store_error_page(&state, &e),
    };
    let mut models = Vec::new();
    for summary in summaries {
        let mut versions = Vec::new();
        for &version in summary.versions.iter().rev() {
            let reference = ModelRef {
                name: summary.name.clone(),
                version: Some(version),
            };
            match state.store.get(&reference).await {
                Ok(doc) => versions.push(VersionRow {
                    version: doc.version,
                    model_id: doc.model_id.clone(),
                    created_at: doc.created_at.clone(),
                    method: doc.method.clone(),
                    n_rows: doc.n_rows,
                    variables: doc.variables.len(),
                    edges: doc.edges.len(),
                    dataset: doc.dataset_sha256.chars().take(12).collect(),
                    author: doc.created_by.clone(),
                }),
                // Deleted between the listing and this read: no longer stored.
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return store_error_page(&state, &e),
            }
        }
        models.push(ModelRow {
            name: summary.name,
            latest_created_at: summary.latest_created_at,
            versions,
        });
    }
    let mut context = tera::Context::new();
    context.insert("models", &models);
    render(&state, "models.html", &context, StatusCode::OK)
}

/// A variable as the model page shows it.
#[derive(Debug, Serialize)]
struct VariableView {
    name: String,
    label: String,
    role: &'static str,
    kind: &'static str,
    unit: String,
    mean: String,
    std: String,
    min: String,
    max: String,
    parents: Vec<String>,
    mechanism: String,
    fit: String,
}

/// An edge as the model page shows it.
#[derive(Debug, Serialize)]
struct EffectView {
    source: String,
    target: String,
    source_label: String,
    target_label: String,
    effect: String,
    interval: String,
    p_value: String,
    method: String,
}

fn shown(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_string(), number)
}

fn interval(edge: &CausalEdge) -> String {
    match (edge.ci_low, edge.ci_high) {
        (Some(low), Some(high)) => format!("[{}, {}]", number(low), number(high)),
        _ => "—".to_string(),
    }
}

/// The held-out fit a mechanism recorded in its parameters (see
/// `causeway_estimators::scm::document` for the names), in words.
fn held_out_fit(parameters: &BTreeMap<String, f64>) -> String {
    if let Some(r2) = parameters.get("held_out_r2") {
        return format!("held-out R² {r2:.2}");
    }
    match (
        parameters.get("held_out_log_loss"),
        parameters.get("baseline_log_loss"),
    ) {
        (Some(loss), Some(baseline)) => {
            format!("held-out log-loss {loss:.3} ({baseline:.3} without parents)")
        }
        (Some(loss), None) => format!("held-out log-loss {loss:.3}"),
        _ => "—".to_string(),
    }
}

fn effect_views(document: &ModelDocument) -> Vec<EffectView> {
    let label = |name: &str| {
        document
            .variables
            .iter()
            .find(|v| v.name == name)
            .map_or_else(|| name.to_string(), |v| v.label.clone())
    };
    document
        .edges
        .iter()
        .map(|e| EffectView {
            source: e.source.clone(),
            target: e.target.clone(),
            source_label: label(&e.source),
            target_label: label(&e.target),
            effect: shown(e.effect),
            interval: interval(e),
            p_value: e
                .p_value
                .map_or_else(|| "—".to_string(), |p| format!("{p:.3}")),
            method: e.method.clone().unwrap_or_else(|| "—".to_string()),
        })
        .collect()
}

fn variable_views(document: &ModelDocument) -> Vec<VariableView> {
    document
        .variables
        .iter()
        .map(|v| VariableView {
            name: v.name.clone(),
            label: v.label.clone(),
            role: v.role.name(),
            kind: v.kind.name(),
            unit: v.unit.clone().unwrap_or_default(),
            mean: shown(v.mean),
            std: shown(v.std),
            min: shown(v.min),
            max: shown(v.max),
            parents: document
                .edges
                .iter()
                .filter(|e| e.target == v.name)
                .map(|e| e.source.clone())
                .collect(),
            mechanism: v.mechanism.clone().unwrap_or_else(|| "—".to_string()),
            fit: held_out_fit(&v.parameters),
        })
        .collect()
}

/// The versions stored under `name`, ascending.
async fn versions_of(state: &AppState, name: &str) -> Result<Vec<u32>, StoreError> {
    Ok(state
        .store
        .list()
        .await?
        .into_iter()
        .find(|m| m.name == name)
        .map(|m| m.versions)
        .unwrap_or_default())
}

async fn model_page(State(state): State<AppState>, Path(reference): Path<String>) -> Response {
    let document = match get_document(&state, &reference).await {
        Ok(document) => document,
        Err(e) => return store_error_page(&state, &e),
    };
    let versions = match versions_of(&state, &document.name).await {
        Ok(versions) => versions,
        Err(e) => return store_error_page(&state, &e),
    };
    // The diff offered is from the previous version to this one, or, for the
    // first version, from this one to the next.
    let previous = versions
        .iter()
        .copied()
        .filter(|&v| v < document.version)
        .max();
    let next = versions.iter().copied().find(|&v| v > document.version);
    let diff = match (previous, next) {
        (Some(p), _) => Some([p, document.version]),
        (None, Some(n)) => Some([document.version, n]),
        (None, None) => None,
    };
    let mut context = tera::Context::new();
    context.insert("model", &document);
    context.insert("svg", &svg::model_picture(&document));
    context.insert("variables", &variable_views(&document));
    context.insert("effects", &effect_views(&document));
    context.insert("versions", &versions);
    context.insert("diff", &diff);
    render(&state, "model.html", &context, StatusCode::OK)
}

async fn get_document(state: &AppState, reference: &str) -> Result<ModelDocument, StoreError> {
    let reference = ModelRef::parse(reference)?;
    state.store.get(&reference).await
}

async fn graphml(State(state): State<AppState>, Path(reference): Path<String>) -> Response {
    let document = match get_document(&state, &reference).await {
        Ok(document) => document,
        Err(e) => return store_error_page(&state, &e),
    };
    let text = match write_model(&document) {
        Ok(text) => text,
        Err(e) => return internal(&format!("writing GraphML of {}: {e}", document.model_id)),
    };
    let filename = format!("{}.graphml", document.model_id);
    // Names may hold any letter: an ASCII fallback for old clients, and the exact
    // name in RFC 5987 form.
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(&filename)
    );
    let Ok(disposition) = HeaderValue::from_str(&disposition) else {
        return internal(&format!("content disposition {disposition:?}"));
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/graphml+xml; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

/// An edge in the diff page, with the numbers formatted.
#[derive(Debug, Serialize)]
struct EdgeView {
    source: String,
    target: String,
    effect: String,
    interval: String,
}

impl EdgeView {
    fn of(edge: &CausalEdge) -> Self {
        EdgeView {
            source: edge.source.clone(),
            target: edge.target.clone(),
            effect: shown(edge.effect),
            interval: interval(edge),
        }
    }
}

#[derive(Debug, Serialize)]
struct ChangeView {
    source: String,
    target: String,
    old: EdgeView,
    new: EdgeView,
}

impl ChangeView {
    fn of(change: &EffectChange) -> Self {
        ChangeView {
            source: change.new.source.clone(),
            target: change.new.target.clone(),
            old: EdgeView::of(&change.old),
            new: EdgeView::of(&change.new),
        }
    }
}

/// A version number from the query, or a message for the 400 page.
fn version_parameter(text: Option<&str>, which: &str) -> Result<Option<u32>, StoreError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<u32>() {
            Ok(v) if v >= 1 => Ok(Some(v)),
            _ => Err(StoreError::InvalidReference(format!(
                "`{which}={text}`: a version is a number from 1 up"
            ))),
        },
    }
}

async fn diff_page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DiffQuery>,
) -> Response {
    match diff_context(&state, &name, &query).await {
        Ok(context) => render(&state, "diff.html", &context, StatusCode::OK),
        Err(e) => store_error_page(&state, &e),
    }
}

async fn diff_context(
    state: &AppState,
    name: &str,
    query: &DiffQuery,
) -> Result<tera::Context, StoreError> {
    validate_name(name)?;
    let from = version_parameter(query.from.as_deref(), "from")?;
    let to = version_parameter(query.to.as_deref(), "to")?;
    let versions = versions_of(state, name).await?;
    // Without versions named, the two latest are compared.
    let to = to.or(versions.last().copied());
    let from = from.or_else(|| {
        to.and_then(|t| versions.iter().copied().filter(|&v| v < t).max())
            .or(to)
    });
    let (Some(from), Some(to)) = (from, to) else {
        return Err(StoreError::NotFound {
            reference: name.to_string(),
            known: Vec::new(),
        });
    };
    let reference = |version| ModelRef {
        name: name.to_string(),
        version: Some(version),
    };
    let old = state.store.get(&reference(from)).await?;
    let new = state.store.get(&reference(to)).await?;
    let changes = diff(&old, &new);
    let mut context = tera::Context::new();
    context.insert("name", name);
    context.insert("old", &old);
    context.insert("new", &new);
    context.insert("versions", &versions);
    context.insert("unchanged", &changes.is_empty());
    context.insert("variables_added", &changes.variables_added);
    context.insert("variables_removed", &changes.variables_removed);
    context.insert("roles_changed", &changes.roles_changed);
    let edges = |list: &[CausalEdge]| list.iter().map(EdgeView::of).collect::<Vec<_>>();
    let effect_changes =
        |list: &[EffectChange]| list.iter().map(ChangeView::of).collect::<Vec<_>>();
    context.insert("edges_added", &edges(&changes.edges_added));
    context.insert("edges_removed", &edges(&changes.edges_removed));
    context.insert("effects_changed", &effect_changes(&changes.effects_changed));
    context.insert(
        "effects_not_compared",
        &effect_changes(&changes.effects_not_compared),
    );
    Ok(context)
}

/// The page for a store error: 400 for a malformed reference, 404 for a missing
/// model or version (naming those stored), an opaque 500 for a failure.
fn store_error_page(state: &AppState, error: &StoreError) -> Response {
    let status = match error {
        StoreError::InvalidReference(_) | StoreError::InvalidModel(_) => StatusCode::BAD_REQUEST,
        StoreError::NotFound { .. } | StoreError::UnknownVariable { .. } => StatusCode::NOT_FOUND,
        StoreError::InUse(_) => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::Backend(cause) => return internal(cause),
    };
    let mut context = tera::Context::new();
    context.insert("status", &status.as_u16());
    context.insert(
        "title",
        if status == StatusCode::NOT_FOUND {
            "No such model"
        } else if status == StatusCode::BAD_REQUEST {
            "Not a model reference"
        } else {
            "Model store busy"
        },
    );
    context.insert("message", &error.to_string());
    render(state, "browse_error.html", &context, status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_estimators::model::{Variable, VariableKind};

    fn edge(source: &str, target: &str, effect: f64, low: f64, high: f64) -> CausalEdge {
        CausalEdge {
            effect: Some(effect),
            ci_low: Some(low),
            ci_high: Some(high),
            ..CausalEdge::new(source, target)
        }
    }

    fn document(version: u32, variables: &[(&str, Role)], edges: Vec<CausalEdge>) -> ModelDocument {
        ModelDocument {
            model_id: format!("m@{version}"),
            name: "m".into(),
            version,
            created_at: "2024-01-01T00:00:00Z".into(),
            dataset_sha256: String::new(),
            n_rows: 10,
            method: "scm-linear".into(),
            assumptions: Vec::new(),
            mechanisms: None,
            variables: variables
                .iter()
                .map(|(n, r)| Variable::new(n, *r, VariableKind::Continuous))
                .collect(),
            edges,
            created_by: None,
        }
    }

    #[test]
    fn browse_diff_finds_added_and_removed_variables_edges_and_roles() {
        let old = document(
            1,
            &[
                ("tv", Role::Lever),
                ("visits", Role::Mediator),
                ("sales", Role::Kpi),
                ("radio", Role::Lever),
            ],
            vec![
                edge("tv", "visits", 0.5, 0.4, 0.6),
                edge("visits", "sales", 3.0, 2.9, 3.1),
                edge("radio", "sales", 1.0, 0.8, 1.2),
            ],
        );
        let new = document(
            2,
            &[
                ("season", Role::Confounder),
                ("tv", Role::Lever),
                ("visits", Role::Kpi),
                ("sales", Role::Kpi),
            ],
            vec![
                edge("season", "tv", 20.0, 19.0, 21.0),
                edge("tv", "visits", 0.55, 0.45, 0.65),
                edge("visits", "sales", 3.0, 2.9, 3.1),
            ],
        );
        let changes = diff(&old, &new);
        assert_eq!(changes.variables_added, ["season"]);
        assert_eq!(changes.variables_removed, ["radio"]);
        assert_eq!(
            changes.roles_changed,
            [RoleChange {
                name: "visits".into(),
                from: Role::Mediator,
                to: Role::Kpi
            }]
        );
        assert_eq!(
            changes.edges_added,
            [edge("season", "tv", 20.0, 19.0, 21.0)]
        );
        assert_eq!(
            changes.edges_removed,
            [edge("radio", "sales", 1.0, 0.8, 1.2)]
        );
        // 0.5 → 0.55: each inside the other's interval, so not a change.
        assert!(changes.effects_changed.is_empty(), "{changes:?}");
        assert!(changes.effects_not_compared.is_empty());
        assert!(!changes.is_empty());
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn browse_diff_reports_effects_beyond_either_interval() {
        let variables = [
            ("a", Role::Lever),
            ("b", Role::Kpi),
            ("c", Role::Kpi),
            ("d", Role::Kpi),
        ];
        let old = document(
            1,
            &variables,
            vec![
                // The new effect leaves the old interval.
                edge("a", "b", 1.0, 0.9, 1.1),
                // The old interval is wide, but the old effect is outside the new one.
                edge("a", "c", 1.0, -5.0, 5.0),
                // Without intervals no judgement is possible.
                CausalEdge {
                    effect: Some(1.0),
                    ..CausalEdge::new("a", "d")
                },
            ],
        );
        let new = document(
            2,
            &variables,
            vec![
                edge("a", "b", 2.0, 1.9, 2.1),
                edge("a", "c", 2.0, 1.95, 2.05),
                CausalEdge {
                    effect: Some(2.0),
                    ..CausalEdge::new("a", "d")
                },
            ],
        );
        let changes = diff(&old, &new);
        let changed: Vec<(&str, &str)> = changes
            .effects_changed
            .iter()
            .map(|c| (c.new.source.as_str(), c.new.target.as_str()))
            .collect();
        assert_eq!(changed, [("a", "b"), ("a", "c")]);
        assert_eq!(changes.effects_changed[0].old.effect, Some(1.0));
        assert_eq!(changes.effects_changed[0].new.effect, Some(2.0));
        assert_eq!(changes.effects_not_compared.len(), 1);
        assert_eq!(changes.effects_not_compared[0].new.target, "d");
    }

    #[test]
    fn browse_held_out_fit_reads_the_documents_parameters() {
        let mut parameters = BTreeMap::new();
        assert_eq!(held_out_fit(&parameters), "—");
        parameters.insert("held_out_log_loss".to_string(), 0.4);
        parameters.insert("baseline_log_loss".to_string(), 0.69);
        assert_eq!(
            held_out_fit(&parameters),
            "held-out log-loss 0.400 (0.690 without parents)"
        );
        parameters.insert("held_out_r2".to_string(), 0.934);
        assert_eq!(held_out_fit(&parameters), "held-out R² 0.93");
    }

    #[test]
    fn browse_version_parameters_are_numbers_from_one() {
        assert_eq!(version_parameter(Some("2"), "from").unwrap(), Some(2));
        assert_eq!(version_parameter(None, "from").unwrap(), None);
        assert!(version_parameter(Some("0"), "to").is_err());
        assert!(version_parameter(Some("x"), "to").is_err());
    }
}
