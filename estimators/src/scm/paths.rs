//! Path decomposition: how much of a target's change each directed path from a
//! lever carries.
//!
//! A path's contribution is the product of the direct effects along it times the
//! lever's mean change. With linear mechanisms the direct effects are the
//! coefficients and the contributions add up to the total change exactly (the
//! total effect of a linear SCM is the sum over paths of coefficient products).
//! With other mechanisms each edge's average slope stands in for its coefficient —
//! a linearisation — and shares are scaled to sum to one; the method string says
//! which was used. Paths through a categorical variable have no single slope, so no
//! shares are given for them.

use crate::scm::mechanism::MechanismKind;
use crate::scm::query::PathShare;
use crate::scm::{NodeMechanism, StructuralModel};

/// Paths listed per target at most; the rest are summed up in the method text.
const MAX_LISTED: usize = 10;
/// Paths enumerated at most, so a dense graph cannot run away.
const MAX_ENUMERATED: usize = 10_000;

/// The paths from the levers (with their mean changes) to `target` through the
/// recomputed variables `changed`, with shares, and how the shares were computed.
pub(crate) fn path_shares(
    model: &StructuralModel,
    changed: &[usize],
    lever_deltas: &[(usize, f64)],
    target: usize,
) -> (Vec<PathShare>, String) {
    let mut paths: Vec<Vec<usize>> = Vec::new();
    for &(lever, _) in lever_deltas {
        let mut stack = vec![lever];
        walk(model, changed, target, &mut stack, &mut paths);
    }
    let truncated = paths.len() >= MAX_ENUMERATED;
    let mut exact = true;
    let mut contributions: Vec<Option<f64>> = Vec::with_capacity(paths.len());
    for path in &paths {
        let delta = lever_deltas
            .iter()
            .find(|(lever, _)| *lever == path[0])
            .map_or(0.0, |(_, d)| *d);
        let mut product = Some(delta);
        for pair in path.windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            let node = &model.nodes[child];
            let NodeMechanism::Fitted {
                mechanism, edges, ..
            } = &node.mechanism
            else {
                product = None;
                break;
            };
            if mechanism.kind() != MechanismKind::LinearGaussian {
                exact = false;
            }
            let slope = node
                .parents
                .iter()
                .position(|&p| p == parent)
                .and_then(|i| edges[i].effect);
            product = product.zip(slope).map(|(a, b)| a * b);
        }
        contributions.push(product);
    }
    if lever_deltas.len() > 1 {
        // A lever downstream of another passes on only part of the upstream change.
        exact = exact
            && !lever_deltas
                .iter()
                .any(|(l, _)| paths.iter().any(|p| p[1..].contains(l)));
    }

    let names = |path: &[usize]| -> Vec<String> {
        path.iter().map(|&i| model.nodes[i].name.clone()).collect()
    };
    if contributions.iter().any(Option::is_none) {
        let listed = paths
            .iter()
            .take(MAX_LISTED)
            .map(|p| PathShare {
                nodes: names(p),
                share: None,
            })
            .collect();
        return (
            listed,
            "no shares: a categorical variable on a path has no single slope".to_string(),
        );
    }
    let contributions: Vec<f64> = contributions.into_iter().flatten().collect();
    let total: f64 = contributions.iter().sum();
    let scale = contributions.iter().map(|c| c.abs()).sum::<f64>();
    let mut shares: Vec<(usize, Option<f64>)> = contributions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                i,
                (total.abs() > 1e-12 * scale.max(1e-300)).then(|| c / total),
            )
        })
        .collect();
    shares.sort_by(|a, b| {
        let key = |s: &Option<f64>| s.map_or(0.0, f64::abs);
        key(&b.1).total_cmp(&key(&a.1)).then(a.0.cmp(&b.0))
    });
    let listed: Vec<PathShare> = shares
        .iter()
        .take(MAX_LISTED)
        .map(|&(i, share)| PathShare {
            nodes: names(&paths[i]),
            share,
        })
        .collect();
    let mut method = if exact {
        "exact: product of the linear coefficients along each path".to_string()
    } else {
        "approximate: product of each mechanism's average slope along each path, as a share of their sum".to_string()
    };
    if total.abs() <= 1e-12 * scale.max(1e-300) {
        method = "no shares: the paths' contributions cancel out".to_string();
    }
    if paths.len() > MAX_LISTED {
        method.push_str(&format!(
            "; the {MAX_LISTED} largest of {}{} paths are listed",
            paths.len(),
            if truncated { "+" } else { "" }
        ));
    }
    (listed, method)
}

/// Depth-first enumeration of directed paths from the top of `stack` to `target`,
/// staying inside `changed`.
fn walk(
    model: &StructuralModel,
    changed: &[usize],
    target: usize,
    stack: &mut Vec<usize>,
    paths: &mut Vec<Vec<usize>>,
) {
    if paths.len() >= MAX_ENUMERATED {
        return;
    }
    let here = *stack.last().expect("the stack starts with the lever");
    if here == target {
        paths.push(stack.clone());
        return;
    }
    for &child in changed {
        if model.nodes[child].parents.contains(&here) {
            stack.push(child);
            walk(model, changed, target, stack, paths);
            stack.pop();
        }
    }
}
