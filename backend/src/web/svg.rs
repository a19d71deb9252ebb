//! Pictures drawn on the server as SVG: an answer's causal paths, and a whole
//! model graph for the model browser.
//!
//! In the paths picture, variables are placed in columns by their position on the
//! paths (levers on the left, the KPIs they reach on the right), edges are arrows
//! whose width grows with the share of the change they carry, and roles have
//! colours. KPIs no path reaches are drawn apart, greyed, so "cannot move" is
//! visible at a glance.
//!
//! The model picture places each variable in the column of its topological depth
//! (the longest chain of causes above it), so every arrow points right, labels each
//! arrow with its estimated direct effect, and carries a legend of the role colours.
//!
//! Server-side drawing keeps the pages working without JavaScript and makes the
//! pictures testable as text.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use causeway_estimators::format::number;
use causeway_estimators::model::{ModelDocument, Role};

use crate::engine::WhatIfAnswer;

const COLUMN_WIDTH: f64 = 190.0;
const ROW_HEIGHT: f64 = 56.0;
const NODE_WIDTH: f64 = 150.0;
const NODE_HEIGHT: f64 = 34.0;
const MARGIN: f64 = 16.0;
/// Layers of the model picture are wider than path columns: their arrows carry
/// effect labels.
const LAYER_WIDTH: f64 = 230.0;
const LEGEND_ITEM_WIDTH: f64 = 110.0;

/// The SVG of `answer`'s paths, with labels and roles from `document`.
pub fn paths_picture(answer: &WhatIfAnswer, document: &ModelDocument) -> String {
    let role = |name: &str| {
        document
            .variables
            .iter()
            .find(|v| v.name == name)
            .map_or(Role::Context, |v| v.role)
    };
    let label = |name: &str| {
        document
            .variables
            .iter()
            .find(|v| v.name == name)
            .map_or_else(|| name.to_string(), |v| v.label.clone())
    };
    // Column of each node: its largest position on any path (so every edge points
    // right); weight of each edge: the summed share of the paths through it.
    let mut column: BTreeMap<String, usize> = BTreeMap::new();
    let mut edges: BTreeMap<(String, String), f64> = BTreeMap::new();
    for effect in &answer.effects {
        for path in &effect.paths {
            for (position, node) in path.nodes.iter().enumerate() {
                let entry = column.entry(node.clone()).or_insert(position);
                *entry = (*entry).max(position);
            }
            for pair in path.nodes.windows(2) {
                *edges
                    .entry((pair[0].clone(), pair[1].clone()))
                    .or_insert(0.0) += path.share.unwrap_or(0.0).abs();
            }
        }
    }
    for intervention in &answer.query.interventions {
        column.entry(intervention.variable.clone()).or_insert(0);
    }
    let columns = column.values().copied().max().map_or(1, |m| m + 1);
    let mut rows_used = vec![0usize; columns + 1];
    let mut position: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut ordered: Vec<(&String, &usize)> = column.iter().collect();
    ordered.sort_by_key(|(name, c)| (**c, name.as_str()));
    for (name, &c) in ordered {
        let row = rows_used[c];
        rows_used[c] += 1;
        position.insert(
            name.clone(),
            (
                MARGIN + c as f64 * COLUMN_WIDTH,
                MARGIN + row as f64 * ROW_HEIGHT,
            ),
        );
    }
    // Unaffected KPIs in a column of their own, at the right.
    for name in &answer.unaffected {
        let row = rows_used[columns];
        rows_used[columns] += 1;
        position.insert(
            name.clone(),
            (
                MARGIN + columns as f64 * COLUMN_WIDTH + 30.0,
                MARGIN + row as f64 * ROW_HEIGHT,
            ),
        );
    }
    let used_columns = if answer.unaffected.is_empty() {
        columns
    } else {
        columns + 1
    };
    let width = 2.0 * MARGIN + (used_columns as f64 - 1.0) * COLUMN_WIDTH + NODE_WIDTH + 30.0;
    let height = 2.0 * MARGIN
        + (rows_used.iter().copied().max().unwrap_or(1) as f64 - 1.0) * ROW_HEIGHT
        + NODE_HEIGHT;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="paths" role="img" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}"><title>Causal paths of this answer</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#56606b"/></marker></defs>"##
    );
    for ((from, to), share) in &edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (position.get(from), position.get(to)) else {
            continue;
        };
        let stroke = 1.5 + 5.0 * share.min(1.0);
        let _ = write!(
            svg,
            r##"<line class="edge" data-from="{}" data-to="{}" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#56606b" stroke-width="{stroke:.1}" marker-end="url(#arrow)"/>"##,
            escape(from),
            escape(to),
            x1 + NODE_WIDTH,
            y1 + NODE_HEIGHT / 2.0,
            x2 - 2.0,
            y2 + NODE_HEIGHT / 2.0,
        );
    }
    for (name, &(x, y)) in &position {
        let unaffected = answer.unaffected.contains(name);
        let (fill, stroke) = if unaffected {
            ("#f1f1f1", "#b9b9b9")
        } else {
            role_colours(role(name))
        };
        let text = shorten(&label(name));
        let _ = write!(
            svg,
            r#"<g class="node{}" data-name="{}"><rect x="{x:.1}" y="{y:.1}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" fill="{fill}" stroke="{stroke}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13" fill="{}">{}</text></g>"#,
            if unaffected { " unaffected" } else { "" },
            escape(name),
            x + NODE_WIDTH / 2.0,
            y + NODE_HEIGHT / 2.0 + 4.5,
            if unaffected { "#8a8a8a" } else { "#1d232a" },
            escape(&text),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The fill and stroke of a node of `role`, the same in every picture so that a
/// colour means one role everywhere.
pub fn role_colours(role: Role) -> (&'static str, &'static str) {
    match role {
        Role::Lever => ("#dbe9ff", "#2f6fd6"),
        Role::Kpi => ("#dcf5e3", "#23884a"),
        Role::Mediator => ("#f3ecff", "#7a55c7"),
        Role::Confounder => ("#fff1db", "#c27a00"),
        Role::Context => ("#f7f7f7", "#8a8a8a"),
    }
}

/// A label that fits in a node box.
fn shorten(label: &str) -> String {
    if label.chars().count() > 22 {
        label.chars().take(21).collect::<String>() + "…"
    } else {
        label.to_string()
    }
}

/// The document's variables in layers by topological depth: layer 0 holds the
/// variables without causes, and each other variable sits one layer after its
/// deepest cause, so every edge goes from a lower layer to a higher one. Within a
/// layer, variables keep the document's order. Every variable is placed exactly
/// once; edges naming unknown variables are ignored, and should the edges hold a
/// cycle (stores refuse those) its variables go in one last layer rather than
/// being lost.
pub fn layers(document: &ModelDocument) -> Vec<Vec<String>> {
    let index: HashMap<&str, usize> = document
        .variables
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.as_str(), i))
        .collect();
    let n = document.variables.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting = vec![0usize; n];
    for edge in &document.edges {
        if let (Some(&s), Some(&t)) = (
            index.get(edge.source.as_str()),
            index.get(edge.target.as_str()),
        ) {
            children[s].push(t);
            waiting[t] += 1;
        }
    }
    // Kahn's algorithm; a variable's depth is final once all its causes are done.
    let mut depth: Vec<Option<usize>> = vec![None; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut reached = vec![0usize; n];
    for &i in &ready {
        depth[i] = Some(0);
    }
    while let Some(i) = ready.pop() {
        let d = depth[i].unwrap_or(0);
        for &child in &children[i] {
            reached[child] = reached[child].max(d + 1);
            waiting[child] -= 1;
            if waiting[child] == 0 {
                depth[child] = Some(reached[child]);
                ready.push(child);
            }
        }
    }
    let deepest = depth.iter().flatten().copied().max().map_or(0, |d| d + 1);
    let mut out: Vec<Vec<String>> = Vec::new();
    for (i, variable) in document.variables.iter().enumerate() {
        let layer = depth[i].unwrap_or(deepest);
        if out.len() <= layer {
            out.resize(layer + 1, Vec::new());
        }
        out[layer].push(variable.name.clone());
    }
    out
}

/// The SVG of the whole model graph: variables in [`layers`] from left to right,
/// coloured by role, arrows labelled with the estimated direct effect, and a legend.
pub fn model_picture(document: &ModelDocument) -> String {
    let layers = layers(document);
    let tallest = layers.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut position: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (c, layer) in layers.iter().enumerate() {
        // Shorter layers are centred against the tallest so arrows stay short.
        let offset = (tallest - layer.len()) as f64 * ROW_HEIGHT / 2.0;
        for (row, name) in layer.iter().enumerate() {
            position.insert(
                name.as_str(),
                (
                    MARGIN + c as f64 * LAYER_WIDTH,
                    MARGIN + offset + row as f64 * ROW_HEIGHT,
                ),
            );
        }
    }
    let columns = layers.len().max(1);
    let legend_y = MARGIN + tallest as f64 * ROW_HEIGHT + 8.0;
    let width = (2.0 * MARGIN + (columns as f64 - 1.0) * LAYER_WIDTH + NODE_WIDTH)
        .max(2.0 * MARGIN + Role::ALL.len() as f64 * LEGEND_ITEM_WIDTH);
    let height = legend_y + 18.0 + MARGIN;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="model-graph" role="img" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}"><title>Causal graph of {}</title><defs><marker id="model-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#56606b"/></marker></defs>"##,
        escape(&document.model_id)
    );
    for edge in &document.edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (
            position.get(edge.source.as_str()),
            position.get(edge.target.as_str()),
        ) else {
            continue;
        };
        let (x1, y1, x2, y2) = (
            x1 + NODE_WIDTH,
            y1 + NODE_HEIGHT / 2.0,
            x2 - 2.0,
            y2 + NODE_HEIGHT / 2.0,
        );
        let effect = edge.effect.map_or_else(|| "—".to_string(), number);
        let _ = write!(
            svg,
            r##"<g class="edge" data-from="{}" data-to="{}"><line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#56606b" stroke-width="1.5" marker-end="url(#model-arrow)"/><text class="effect" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#1d232a" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text></g>"##,
            escape(&edge.source),
            escape(&edge.target),
            (x1 + x2) / 2.0,
            (y1 + y2) / 2.0 - 4.0,
            escape(&effect),
        );
    }
    for variable in &document.variables {
        let Some(&(x, y)) = position.get(variable.name.as_str()) else {
            continue;
        };
        let (fill, stroke) = role_colours(variable.role);
        let _ = write!(
            svg,
            r##"<g class="node" data-name="{0}" data-role="{1}"><title>{0} ({1})</title><rect x="{x:.1}" y="{y:.1}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" fill="{fill}" stroke="{stroke}"/><text x="{2:.1}" y="{3:.1}" text-anchor="middle" font-size="13" fill="#1d232a">{4}</text></g>"##,
            escape(&variable.name),
            variable.role.name(),
            x + NODE_WIDTH / 2.0,
            y + NODE_HEIGHT / 2.0 + 4.5,
            escape(&shorten(&variable.label)),
        );
    }
    svg.push_str(r#"<g class="legend">"#);
    for (i, role) in Role::ALL.into_iter().enumerate() {
        let (fill, stroke) = role_colours(role);
        let x = MARGIN + i as f64 * LEGEND_ITEM_WIDTH;
        let _ = write!(
            svg,
            r##"<g class="legend-item" data-role="{0}"><rect x="{x:.1}" y="{legend_y:.1}" width="14" height="14" rx="3" fill="{fill}" stroke="{stroke}"/><text x="{1:.1}" y="{2:.1}" font-size="12" fill="#1d232a">{0}</text></g>"##,
            role.name(),
            x + 20.0,
            legend_y + 11.5,
        );
    }
    svg.push_str("</g></svg>");
    svg
}

/// Text safe inside SVG (XML) text and attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_estimators::model::{CausalEdge, Variable, VariableKind};

    fn document(names: &[(&str, Role)], edges: &[(&str, &str)]) -> ModelDocument {
        ModelDocument {
            model_id: "m@1".into(),
            name: "m".into(),
            version: 1,
            created_at: "2024-01-01T00:00:00Z".into(),
            dataset_sha256: String::new(),
            n_rows: 0,
            method: "scm-linear".into(),
            assumptions: Vec::new(),
            mechanisms: None,
            variables: names
                .iter()
                .map(|(n, r)| Variable::new(n, *r, VariableKind::Continuous))
                .collect(),
            edges: edges
                .iter()
                .map(|(s, t)| {
                    let mut edge = CausalEdge::new(s, t);
                    edge.effect = Some(0.5);
                    edge
                })
                .collect(),
            created_by: None,
        }
    }

    fn layer_of(layers: &[Vec<String>], name: &str) -> usize {
        layers
            .iter()
            .position(|l| l.iter().any(|n| n == name))
            .unwrap_or_else(|| panic!("{name} not placed in {layers:?}"))
    }

    #[test]
    fn browse_layers_respect_edge_direction_and_place_every_node_once() {
        // Listed out of topological order on purpose, with a long edge (season →
        // sales) that must not pull sales before visits.
        let doc = document(
            &[
                ("sales", Role::Kpi),
                ("visits", Role::Mediator),
                ("tv", Role::Lever),
                ("season", Role::Confounder),
                ("weather", Role::Context),
            ],
            &[
                ("season", "tv"),
                ("season", "sales"),
                ("tv", "visits"),
                ("visits", "sales"),
                ("tv", "sales"),
            ],
        );
        let layers = layers(&doc);
        let mut placed: Vec<&String> = layers.iter().flatten().collect();
        placed.sort();
        assert_eq!(
            placed,
            ["sales", "season", "tv", "visits", "weather"],
            "{layers:?}"
        );
        for edge in &doc.edges {
            assert!(
                layer_of(&layers, &edge.source) < layer_of(&layers, &edge.target),
                "{} → {} in {layers:?}",
                edge.source,
                edge.target
            );
        }
        assert_eq!(layer_of(&layers, "season"), 0);
        assert_eq!(layer_of(&layers, "weather"), 0);
        assert_eq!(layer_of(&layers, "sales"), 3);
    }

    #[test]
    fn browse_layers_keep_every_node_of_a_cycle() {
        let doc = document(
            &[("a", Role::Lever), ("b", Role::Kpi), ("c", Role::Kpi)],
            &[("a", "b"), ("b", "a"), ("a", "c"), ("x", "a")],
        );
        let layers = layers(&doc);
        assert_eq!(layers.iter().map(Vec::len).sum::<usize>(), 3, "{layers:?}");
    }

    #[test]
    fn browse_model_picture_colours_roles_and_labels_effects() {
        let doc = document(
            &[("tv", Role::Lever), ("sales", Role::Kpi)],
            &[("tv", "sales")],
        );
        let svg = model_picture(&doc);
        let (lever_fill, _) = role_colours(Role::Lever);
        let (kpi_fill, _) = role_colours(Role::Kpi);
        assert_ne!(lever_fill, kpi_fill);
        assert!(svg.contains(&format!(
            r#"data-name="tv" data-role="lever"><title>tv (lever)</title><rect x="16.0" y="16.0" width="150" height="34" rx="8" fill="{lever_fill}""#
        )), "{svg}");
        assert!(
            svg.contains(r#"data-role="kpi"><title>sales (kpi)</title><rect x="246.0""#),
            "{svg}"
        );
        assert!(svg.contains(&format!(r#"fill="{kpi_fill}""#)));
        assert!(
            svg.contains(r#"paint-order="stroke">0.5000</text>"#),
            "{svg}"
        );
        for role in Role::ALL {
            assert!(svg.contains(&format!(
                r#"class="legend-item" data-role="{}""#,
                role.name()
            )));
        }
    }
}
