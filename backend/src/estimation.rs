//! One causal-effect estimate from a data set and a DAG: identification, the
//! choice of estimator and adjustment set, the estimate, the refutations, and the
//! [`Report`] that says what the answer rests on.
//!
//! `causeway estimate` and `POST /api/v1/estimate` are two doors to this one
//! implementation: each turns what it received (flags, a form) into an
//! [`EstimateRequest`], reads the data and the graph its own way, and calls [`run`].
//! The report is the same JSON from both. Messages that tell the user which option
//! to add name it the way the caller spells it ([`Surface`]): `--method iv` on the
//! command line, `method=iv` in the API's form.
//!
//! This is synchronous CPU work (forests, cross-fitting, bootstrap refits): the
//! server calls it from a blocking thread.

use causeway_estimators::data::Dataset;
use causeway_estimators::estimate::{EffectSpec, Estimate, Estimator, Method};
use causeway_estimators::graph::CausalGraph;
use causeway_estimators::identify::{identify, IdentifiedEstimand, IdentifyOptions, Strategy};
use causeway_estimators::learners::forest::ForestParams;
use causeway_estimators::learners::Learner;
use causeway_estimators::progress::Progress;
use causeway_estimators::refute::{refute_all_with_progress, Refutation, RefuteOptions};
use causeway_estimators::Error;
use serde::Serialize;

/// Who asks, so that a message names the option to add as that caller writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// `causeway estimate`: flags, `--method iv`.
    CommandLine,
    /// `POST /api/v1/estimate`: form fields, `method=iv`.
    Api,
}

impl Surface {
    /// An option with a value as this caller writes it: `flag` (`--method`) on the
    /// command line, `field` (`method`) in the API.
    fn option(self, flag: &str, field: &str, value: &str) -> String {
        match self {
            Surface::CommandLine => format!("{flag} {value}"),
            Surface::Api => format!("`{field}={value}`"),
        }
    }
}

/// The nuisance learner of DML and AIPW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nuisance {
    /// Least squares (and logistic regression for a binary treatment).
    Linear,
    /// Random forests, seeded with the request's seed.
    Forest,
}

impl std::str::FromStr for Nuisance {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "linear" => Ok(Nuisance::Linear),
            "forest" => Ok(Nuisance::Forest),
            _ => Err(format!(
                "unknown nuisance learner `{text}`; use linear or forest"
            )),
        }
    }
}

/// What to estimate and how. [`EstimateRequest::new`] gives the defaults of
/// `causeway estimate`.
#[derive(Clone, Debug, PartialEq)]
pub struct EstimateRequest {
    /// The treatment (cause).
    pub treatment: String,
    /// The outcome (effect).
    pub outcome: String,
    /// The estimation method (default DML).
    pub method: Method,
    /// Nuisance learner for DML and AIPW (default forest).
    pub nuisance: Nuisance,
    /// Cross-fitting folds for DML and AIPW (default 5).
    pub folds: usize,
    /// Propensity trimming for IPW and AIPW (default 0.01).
    pub trim: f64,
    /// Variables to adjust for instead of the set identification finds.
    pub adjust: Option<Vec<String>>,
    /// Instruments for IV (default: every instrument the graph implies).
    pub instruments: Vec<String>,
    /// Mediators for the frontdoor method (default: the graph's frontdoor set).
    pub mediators: Vec<String>,
    /// Period column for DiD.
    pub time: Option<String>,
    /// Unit column for DiD on a panel.
    pub unit: Option<String>,
    /// Graph nodes that are not observed (not columns of the data).
    pub latent: Vec<String>,
    /// List every minimal backdoor set, not only the smallest.
    pub all_sets: bool,
    /// Run the refuters.
    pub refute: bool,
    /// Resamples of the bootstrap refuter (default 100).
    pub bootstrap: usize,
    /// Seed for fold splits, forests and refuters (default 0).
    pub seed: u64,
    /// Who asks, for the wording of messages.
    pub surface: Surface,
}

impl EstimateRequest {
    /// The effect of `treatment` on `outcome` with every default of
    /// `causeway estimate`.
    pub fn new(treatment: &str, outcome: &str, surface: Surface) -> Self {
        EstimateRequest {
            treatment: treatment.to_string(),
            outcome: outcome.to_string(),
            method: Method::Dml,
            nuisance: Nuisance::Forest,
            folds: 5,
            trim: 0.01,
            adjust: None,
            instruments: Vec::new(),
            mediators: Vec::new(),
            time: None,
            unit: None,
            latent: Vec::new(),
            all_sets: false,
            refute: false,
            bootstrap: 100,
            seed: 0,
            surface,
        }
    }
}

/// The answer: the estimate's fields at the top level, then how the effect was
/// identified, what it rests on and how it fared under the refuters. This is what
/// `causeway estimate --format json` prints and `POST /api/v1/estimate` returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// The estimate.
    #[serde(flatten)]
    pub estimate: Estimate,
    /// How the effect was identified: `backdoor adjustment`, `instrumental
    /// variables`, `frontdoor adjustment` or `difference in differences`.
    pub identification: &'static str,
    /// Every minimal backdoor set, when all of them were asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub all_adjustment_sets: Vec<Vec<String>>,
    /// What the estimate rests on, in plain words.
    pub assumptions: Vec<String>,
    /// The refuters' verdicts, when refutation was asked for.
    pub refutations: Vec<Refutation>,
}

/// Why no estimate was made.
#[derive(Debug, thiserror::Error)]
pub enum EstimationError {
    /// The data, the graph or the effect asked for do not allow an estimate
    /// (unknown variable, not identifiable, no overlap, …).
    #[error(transparent)]
    Estimators(#[from] Error),
    /// The method needs an option that was not given.
    #[error("{0}")]
    Usage(String),
}

/// Estimates the effect `request` asks for on `data` with `graph` (its nodes named
/// in `request.latent` taken as unobserved); the refuters report to `progress`.
pub fn run(
    data: &Dataset,
    graph: CausalGraph,
    request: &EstimateRequest,
    progress: &dyn Progress,
) -> Result<Report, EstimationError> {
    let graph = with_latent(graph, &request.latent)?;
    graph.check_columns(&data.column_names())?;
    let Plan {
        estimator,
        spec,
        identification,
        assumptions,
        all_adjustment_sets,
    } = plan(request, &graph)?;
    let estimate = estimator.estimate(data, &spec)?;
    let refutations = if request.refute {
        let options = RefuteOptions {
            bootstrap_runs: request.bootstrap,
            seed: request.seed,
            ..RefuteOptions::default()
        };
        refute_all_with_progress(data, &spec, &estimator, &estimate, &options, progress)?
    } else {
        Vec::new()
    };
    Ok(Report {
        estimate,
        identification,
        all_adjustment_sets,
        assumptions,
        refutations,
    })
}

/// `graph` with the nodes in `latent` marked unobserved as well.
fn with_latent(graph: CausalGraph, latent: &[String]) -> Result<CausalGraph, Error> {
    if latent.is_empty() {
        return Ok(graph);
    }
    for name in latent {
        if !graph.contains(name) {
            return Err(Error::unknown_variable(name, graph.node_names()));
        }
    }
    let edges: Vec<(String, String)> = graph
        .edges()
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let latent: Vec<String> = graph
        .latent_names()
        .into_iter()
        .map(str::to_string)
        .chain(latent.iter().cloned())
        .collect();
    CausalGraph::from_edges(&edges, &latent)
}

/// What to run: the estimator, the effect with its adjustment set, and what the
/// answer rests on.
struct Plan {
    estimator: Estimator,
    spec: EffectSpec,
    identification: &'static str,
    assumptions: Vec<String>,
    all_adjustment_sets: Vec<Vec<String>>,
}

/// Chooses the estimator and what to adjust for from the graph (or the user's
/// overrides): DiD rests on parallel trends, every other method on the strategy
/// identification finds for it.
fn plan(request: &EstimateRequest, graph: &CausalGraph) -> Result<Plan, EstimationError> {
    if request.method == Method::Did {
        return plan_difference_in_differences(request, graph);
    }
    let estimand = identify(
        graph,
        &request.treatment,
        &request.outcome,
        IdentifyOptions {
            all_minimal_sets: request.all_sets,
        },
    )?;
    match request.method {
        Method::Iv => plan_instrumental(request, &estimand),
        Method::Frontdoor => plan_frontdoor(request, &estimand),
        method => plan_backdoor(request, method, &estimand),
    }
}

fn effect(request: &EstimateRequest, covariates: Vec<String>) -> EffectSpec {
    EffectSpec {
        treatment: request.treatment.clone(),
        outcome: request.outcome.clone(),
        covariates,
    }
}

fn plan_difference_in_differences(
    request: &EstimateRequest,
    graph: &CausalGraph,
) -> Result<Plan, EstimationError> {
    // The graph does not identify a DiD effect, but it still has to name both variables.
    for name in [&request.treatment, &request.outcome] {
        if !graph.contains(name) {
            return Err(Error::unknown_variable(name, graph.node_names()).into());
        }
    }
    let surface = request.surface;
    let time = request.time.clone().ok_or_else(|| {
        EstimationError::Usage(format!(
            "{} needs {} (and {} for a panel)",
            surface.option("--method", "method", "did"),
            surface.option("--time", "time", "COLUMN"),
            surface.option("--unit", "unit", "COLUMN"),
        ))
    })?;
    Ok(Plan {
        estimator: Estimator::Did {
            time,
            unit: request.unit.clone(),
        },
        spec: effect(request, request.adjust.clone().unwrap_or_default()),
        identification: "difference in differences",
        assumptions: vec![
            format!(
                "parallel trends: without treatment, the treated units' {} would have moved like the untreated units'",
                request.outcome
            ),
            "no anticipation: units do not react before they are treated".to_string(),
            "treatment of one unit does not affect others".to_string(),
        ],
        all_adjustment_sets: Vec::new(),
    })
}

fn plan_instrumental(
    request: &EstimateRequest,
    estimand: &IdentifiedEstimand,
) -> Result<Plan, EstimationError> {
    let instruments = if request.instruments.is_empty() {
        estimand.instruments.clone()
    } else {
        request.instruments.clone()
    };
    if instruments.is_empty() {
        let hint = format!(
            "the graph implies no instrument for the treatment; name one with {} if you know it",
            request
                .surface
                .option("--instrument", "instruments", "NAME")
        );
        return Err(not_identified(estimand, &hint).into());
    }
    let mut assumptions = estimand.assumptions(Strategy::Instrumental);
    for z in instruments
        .iter()
        .filter(|z| !estimand.instruments.contains(z))
    {
        assumptions.push(format!(
            "{z} is a valid instrument (you asserted it; the graph does not imply it)"
        ));
    }
    Ok(Plan {
        estimator: Estimator::Iv { instruments },
        spec: effect(request, request.adjust.clone().unwrap_or_default()),
        identification: "instrumental variables",
        assumptions,
        all_adjustment_sets: Vec::new(),
    })
}

fn plan_frontdoor(
    request: &EstimateRequest,
    estimand: &IdentifiedEstimand,
) -> Result<Plan, EstimationError> {
    let mediators = match (&request.mediators[..], &estimand.frontdoor) {
        ([], Some(set)) => set.clone(),
        ([], None) => {
            let reason = estimand
                .frontdoor_failure
                .clone()
                .unwrap_or_else(|| "no mediator set satisfies the frontdoor criterion".into());
            return Err(Error::NotIdentified {
                treatment: estimand.treatment.clone(),
                outcome: estimand.outcome.clone(),
                reason: format!(
                    "{reason}; name mediators with {} if you know them",
                    request.surface.option("--mediator", "mediators", "NAME")
                ),
            }
            .into());
        }
        (chosen, _) => chosen.to_vec(),
    };
    let mut assumptions = estimand.assumptions(Strategy::Frontdoor);
    if estimand.frontdoor.as_ref() != Some(&mediators) {
        assumptions.push(format!(
            "{} satisfy the frontdoor criterion (you asserted it; the graph does not imply it)",
            mediators.join(", ")
        ));
    }
    assumptions.push("every mechanism on the frontdoor paths is linear".to_string());
    Ok(Plan {
        estimator: Estimator::Frontdoor { mediators },
        spec: effect(request, request.adjust.clone().unwrap_or_default()),
        identification: "frontdoor adjustment",
        assumptions,
        all_adjustment_sets: Vec::new(),
    })
}

fn plan_backdoor(
    request: &EstimateRequest,
    method: Method,
    estimand: &IdentifiedEstimand,
) -> Result<Plan, EstimationError> {
    let use_method = |name: &str| request.surface.option("--method", "method", name);
    let covariates = match (&request.adjust, &estimand.backdoor) {
        (Some(chosen), _) => chosen.clone(),
        (None, Some(set)) => set.clone(),
        (None, None) => {
            let hint = match (&estimand.frontdoor, estimand.instruments.first()) {
                (_, Some(z)) => {
                    format!(
                        "the graph has an instrument, `{z}`: use {}",
                        use_method("iv")
                    )
                }
                (Some(m), None) => format!(
                    "the mediators {} satisfy the frontdoor criterion: use {}",
                    m.join(", "),
                    use_method("frontdoor")
                ),
                (None, None) => {
                    "add the missing confounders to the data, or find an instrument".to_string()
                }
            };
            return Err(not_identified(estimand, &hint).into());
        }
    };
    let mut assumptions = estimand.assumptions(Strategy::Backdoor);
    if request.adjust.is_some() {
        assumptions.push(format!(
            "adjusting for [{}] (chosen by you) blocks every backdoor path",
            covariates.join(", ")
        ));
    }
    assumptions.extend(estimand.notes.iter().cloned());
    let learner = match request.nuisance {
        Nuisance::Linear => Learner::Linear,
        Nuisance::Forest => Learner::Forest(
            ForestParams {
                seed: request.seed,
                ..ForestParams::default()
            }
            .check()?,
        ),
    };
    let estimator = match method {
        Method::Ols => Estimator::Ols,
        Method::Ipw => Estimator::Ipw { trim: request.trim },
        Method::Aipw => Estimator::Aipw {
            trim: request.trim,
            folds: request.folds,
            nuisance: learner,
            seed: request.seed,
        },
        _ => Estimator::Dml {
            folds: request.folds,
            nuisance: learner,
            seed: request.seed,
        },
    };
    Ok(Plan {
        estimator,
        spec: effect(request, covariates),
        identification: "backdoor adjustment",
        assumptions,
        all_adjustment_sets: estimand.all_backdoor_sets.clone(),
    })
}

fn not_identified(estimand: &IdentifiedEstimand, hint: &str) -> Error {
    let reason = estimand
        .backdoor_failure
        .clone()
        .unwrap_or_else(|| "no adjustment set blocks every backdoor path".into());
    Error::NotIdentified {
        treatment: estimand.treatment.clone(),
        outcome: estimand.outcome.clone(),
        reason: format!("{reason}; {hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_estimators::progress::Silent;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    /// y = 2·t + 3·z + noise with z a confounder of t and y.
    fn confounded(n: usize) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let noise = Normal::new(0.0, 1.0).unwrap();
        let (mut z, mut t, mut y) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let zi = noise.sample(&mut rng);
            let ti = 0.8 * zi + noise.sample(&mut rng);
            z.push(zi);
            t.push(ti);
            y.push(2.0 * ti + 3.0 * zi + noise.sample(&mut rng));
        }
        Dataset::from_columns(
            "test",
            vec![("z".into(), z), ("t".into(), t), ("y".into(), y)],
        )
        .unwrap()
    }

    fn graph() -> CausalGraph {
        CausalGraph::parse_edge_list("z->t, z->y, t->y").unwrap()
    }

    #[test]
    fn ols_adjusts_for_the_confounder_and_covers_the_truth() {
        let mut request = EstimateRequest::new("t", "y", Surface::Api);
        request.method = Method::Ols;
        let report = run(&confounded(2000), graph(), &request, &Silent).unwrap();
        assert_eq!(report.estimate.adjustment_set, vec!["z".to_string()]);
        assert_eq!(report.identification, "backdoor adjustment");
        assert!(report.estimate.ci_low < 2.0 && 2.0 < report.estimate.ci_high);
        let error = (report.estimate.estimate - 2.0).abs();
        assert!(
            error < 0.1,
            "estimate {} is {error} off",
            report.estimate.estimate
        );
    }

    #[test]
    fn a_latent_confounder_makes_the_effect_unidentifiable_with_the_callers_wording() {
        let mut request = EstimateRequest::new("t", "y", Surface::Api);
        request.latent = vec!["z".into()];
        let data = confounded(200);
        let error = run(&data, graph(), &request, &Silent).unwrap_err();
        assert!(
            matches!(
                error,
                EstimationError::Estimators(Error::NotIdentified { .. })
            ),
            "{error}"
        );

        // DiD without a period column: the message names the option to add.
        let mut request = EstimateRequest::new("t", "y", Surface::Api);
        request.method = Method::Did;
        let message = run(&data, graph(), &request, &Silent)
            .unwrap_err()
            .to_string();
        assert!(message.contains("`time=COLUMN`"), "{message}");
        request.surface = Surface::CommandLine;
        let message = run(&data, graph(), &request, &Silent)
            .unwrap_err()
            .to_string();
        assert!(message.contains("--time COLUMN"), "{message}");
    }

    #[test]
    fn an_unknown_latent_node_is_refused_with_a_suggestion() {
        let mut request = EstimateRequest::new("t", "y", Surface::Api);
        request.latent = vec!["zz".into()];
        let message = run(&confounded(50), graph(), &request, &Silent)
            .unwrap_err()
            .to_string();
        assert!(message.contains("did you mean `z`"), "{message}");
    }
}
