//! The picture of an answer's causal paths, drawn on the server as SVG.
//!
//! Variables are placed in columns by their position on the paths (levers on the
//! left, the KPIs they reach on the right), edges are arrows whose width grows with
//! the share of the change they carry, and roles have colours. KPIs no path reaches
//! are drawn apart, greyed, so "cannot move" is visible at a glance. Server-side
//! drawing keeps the page working without JavaScript and makes the picture testable
//! as text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use causeway_estimators::model::{ModelDocument, Role};

use crate::engine::WhatIfAnswer;

const COLUMN_WIDTH: f64 = 190.0;
const ROW_HEIGHT: f64 = 56.0;
const NODE_WIDTH: f64 = 150.0;
const NODE_HEIGHT: f64 = 34.0;
const MARGIN: f64 = 16.0;

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
        let (fill, stroke) = match (unaffected, role(name)) {
            (true, _) => ("#f1f1f1", "#b9b9b9"),
            (false, Role::Lever) => ("#dbe9ff", "#2f6fd6"),
            (false, Role::Kpi) => ("#dcf5e3", "#23884a"),
            (false, Role::Mediator) => ("#f3ecff", "#7a55c7"),
            (false, _) => ("#f7f7f7", "#8a8a8a"),
        };
        let mut text: String = label(name);
        if text.chars().count() > 22 {
            text = text.chars().take(21).collect::<String>() + "…";
        }
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
