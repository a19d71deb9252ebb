//! The demo: three seeded business scenarios, generated in code, fitted and stored
//! so that `causeway demo` answers what-if questions from the first minute.
//!
//! Each [`DemoScenario`] is data drawn from known generating equations, the DAG of
//! those equations, levers and KPIs, labels and aliases in English and Traditional
//! Chinese (the offline parser finds variables by them), example questions, and the
//! true effects of a few interventions computed from the equations themselves, so
//! tests can check that the fitted model recovers them:
//!
//! - `retail` — weekly store data: TV, search, promotions and price, with region,
//!   season and temperature; store and web visits carry the effects to store and
//!   online sales; returns depend on price and promotions only, so no change of TV
//!   can reach them.
//! - `factory` — production runs of a smart-factory line: oven temperature, line
//!   speed and pressure with material lots and humidity drive defect rate, yield,
//!   throughput and energy cost. The defect rate is a parabola in oven temperature
//!   (yield peaks at 185 °C), so the `auto` mechanism picks a forest for it.
//! - `onboarding` — a cohort panel (region × channel, weekly) where a new
//!   onboarding flow reached three regions in week 60. Its effect on 30-day
//!   retention is estimated by difference in differences on the panel, and that
//!   estimate is stated in the model's assumptions next to the structural model's
//!   answers, so the two can be compared.
//!
//! Data are written as CSV text and read back with [`Dataset::from_csv_str`], the
//! path every uploaded file takes, so the model's `dataset_sha256` names real bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use causeway_estimators::data::{Dataset, LoadOptions};
use causeway_estimators::estimate::{EffectSpec, Estimate, Estimator};
use causeway_estimators::graph::CausalGraph;
use causeway_estimators::learners::forest::ForestParams;
use causeway_estimators::model::ModelDocument;
use causeway_estimators::scm::document::{sha256_hex, VariableNotes};
use causeway_estimators::scm::{FitOptions, Intervention, MechanismChoice, Op, StructuralModel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::clock::now_rfc3339;
use crate::store::{ModelRef, ModelStore, StoreError};

/// The seed `causeway demo` uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 42;

/// The model a question that names none is asked of, unless configured otherwise.
pub const DEFAULT_MODEL: &str = "retail";

/// The mission's question, in English, as the README and the demo print it.
pub const MISSION_QUESTION_EN: &str = "If we cut TV ads by 10%, what happens to store sales?";
/// The mission's question, in Traditional Chinese.
pub const MISSION_QUESTION_ZH: &str = "如果把電視廣告減少10%，門市銷售會怎樣？";

/// One demo scenario: data, DAG, roles, names for people and example questions.
#[derive(Clone, Debug)]
pub struct DemoScenario {
    /// The model's name in the store.
    pub name: &'static str,
    /// What it is, for people.
    pub title: String,
    /// The generated data.
    pub data: Dataset,
    /// The DAG of the generating equations.
    pub graph: CausalGraph,
    /// Variables the business can change.
    pub levers: Vec<String>,
    /// Outcomes the business watches.
    pub kpis: Vec<String>,
    /// Label, aliases (English and Traditional Chinese) and unit per variable.
    pub notes: BTreeMap<String, VariableNotes>,
    /// Example questions, English and Chinese; each parses and answers.
    pub questions: Vec<String>,
    /// Mechanism of continuous variables.
    pub mechanism: MechanismChoice,
    /// Assumptions stated in the stored model beyond the structural model's own
    /// (the onboarding scenario's difference-in-differences estimate).
    pub extra_assumptions: Vec<String>,
    /// True effects of some interventions, from the generating equations.
    pub truths: Vec<TrueEffect>,
    /// The CSV text the data were read from.
    pub csv: String,
}

/// The true population-average change of a target under an intervention,
/// computed from the generating equations on the generated units.
#[derive(Clone, Debug, PartialEq)]
pub struct TrueEffect {
    /// The intervention.
    pub intervention: Intervention,
    /// The variable whose mean changes.
    pub target: String,
    /// The true change of its mean.
    pub change: f64,
}

/// Why the demo could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Generating, estimating or fitting a scenario failed (a bug in the demo).
    #[error("demo scenario `{scenario}`: {source}")]
    Scenario {
        /// The scenario's name.
        scenario: &'static str,
        /// What failed.
        #[source]
        source: causeway_estimators::Error,
    },
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A fitting task panicked or was cancelled.
    #[error("fitting demo scenario `{0}` did not finish")]
    Interrupted(&'static str),
}

/// The three scenarios, generated from `seed` (the same seed gives the same data).
pub fn scenarios(seed: u64) -> Vec<DemoScenario> {
    [retail(seed), factory(seed), onboarding(seed)]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .expect("the demo's generated scenarios are valid")
}

/// The options a scenario is fitted with.
pub fn fit_options(scenario: &DemoScenario, seed: u64) -> FitOptions {
    FitOptions {
        mechanism: scenario.mechanism,
        forest: ForestParams {
            seed,
            ..ForestParams::default()
        },
        keep_rows: 20_000,
        seed,
        levers: scenario.levers.clone(),
        kpis: scenario.kpis.clone(),
    }
}

/// Fits `scenario` and makes its model document (version 0) with the serialised
/// mechanisms. CPU work: call it from a blocking context.
pub fn fit(
    scenario: &DemoScenario,
    seed: u64,
) -> Result<(StructuralModel, ModelDocument, String), DemoError> {
    let wrap = |source| DemoError::Scenario {
        scenario: scenario.name,
        source,
    };
    let model = StructuralModel::fit(
        &scenario.data,
        &scenario.graph,
        &fit_options(scenario, seed),
    )
    .map_err(wrap)?;
    let (mut document, mechanisms) = model
        .to_document(
            scenario.name,
            &scenario.notes,
            &sha256_hex(scenario.csv.as_bytes()),
            &now_rfc3339(),
        )
        .map_err(wrap)?;
    document
        .assumptions
        .extend(scenario.extra_assumptions.iter().cloned());
    Ok((model, document, mechanisms))
}

/// Fits and saves every scenario whose name the store does not hold yet (so
/// restarting the demo adds no versions), and returns the stored documents of all
/// three, latest versions, in scenario order.
pub async fn install(store: &dyn ModelStore, seed: u64) -> Result<Vec<ModelDocument>, DemoError> {
    let stored: Vec<String> = store.list().await?.into_iter().map(|m| m.name).collect();
    let mut documents = Vec::new();
    for scenario in scenarios(seed) {
        let name = scenario.name;
        if stored.iter().any(|s| s == name) {
            tracing::info!(model = name, "demo model already stored");
            documents.push(store.get(&ModelRef::parse(name)?).await?);
            continue;
        }
        tracing::info!(model = name, "fitting demo model");
        let (_, document, mechanisms) = tokio::task::spawn_blocking(move || fit(&scenario, seed))
            .await
            .map_err(|_| DemoError::Interrupted(name))??;
        let saved = store
            .save_with_mechanisms(document, Some(Arc::from(mechanisms.as_str())))
            .await?;
        documents.push(saved);
    }
    Ok(documents)
}

/// Columns of a generated table, written as CSV.
#[derive(Default)]
struct Table {
    names: Vec<String>,
    columns: Vec<Vec<String>>,
}

impl Table {
    fn numbers(&mut self, name: &str, values: &[f64]) {
        self.names.push(name.to_string());
        self.columns
            .push(values.iter().map(|v| format!("{v:.4}")).collect());
    }

    fn flags(&mut self, name: &str, values: &[f64]) {
        self.names.push(name.to_string());
        self.columns
            .push(values.iter().map(|v| format!("{v:.0}")).collect());
    }

    fn labels(&mut self, name: &str, values: &[&str]) {
        self.names.push(name.to_string());
        self.columns
            .push(values.iter().map(|v| v.to_string()).collect());
    }

    fn csv(&self) -> String {
        let rows = self.columns.first().map_or(0, Vec::len);
        let mut text = self.names.join(",");
        text.push('\n');
        for row in 0..rows {
            let cells: Vec<&str> = self.columns.iter().map(|c| c[row].as_str()).collect();
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        text
    }
}

fn note(label: &str, aliases: &[&str], unit: Option<&str>) -> VariableNotes {
    VariableNotes {
        label: Some(label.to_string()),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        unit: unit.map(str::to_string),
    }
}

fn graph_of(edges: &[(&str, &str)]) -> causeway_estimators::Result<CausalGraph> {
    let edges: Vec<(String, String)> = edges
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    CausalGraph::from_edges(&edges, &[])
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n as f64
}

/// Draws from N(0, sd).
struct Noise(ChaCha8Rng);

impl Noise {
    fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Noise(rng)
    }

    fn normal(&mut self, sd: f64) -> f64 {
        Normal::new(0.0, sd).expect("sd > 0").sample(&mut self.0)
    }

    fn chance(&mut self, p: f64) -> f64 {
        if self.0.gen::<f64>() < p {
            1.0
        } else {
            0.0
        }
    }
}

// Retail: the generating equations' coefficients, shared with the true effects.
const TV_TO_VISITS: f64 = 60.0;
const VISITS_TO_SALES: f64 = 0.025;
const TV_TO_SALES: f64 = 0.75;
const SEARCH_TO_WEB: f64 = 150.0;
const WEB_TO_ONLINE: f64 = 0.02;

fn retail(seed: u64) -> causeway_estimators::Result<DemoScenario> {
    const REGIONS: [&str; 4] = ["north", "south", "east", "west"];
    const SEASONS: [&str; 4] = ["winter", "spring", "summer", "autumn"];
    let (stores, weeks) = (40, 104);
    let mut noise = Noise::new(seed, 1);
    let store_effect: Vec<f64> = (0..stores).map(|_| noise.normal(250.0)).collect();
    let mut t = Table::default();
    let (mut region, mut season) = (Vec::new(), Vec::new());
    let (mut temperature, mut tv, mut search, mut promo, mut price) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut visits, mut web, mut sales, mut online, mut returns) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (store, store_shift) in store_effect.iter().enumerate() {
        let r = store % 4;
        for week in 0..weeks {
            let s = (week % 52) / 13;
            let temp = [9.0, 19.0, 29.0, 21.0][s] + [-4.0, 4.0, 0.0, 1.0][r] + noise.normal(3.0);
            let tv_k =
                (20.0 + [4.0, 0.0, -2.0, 1.0][s] + [1.0, -1.0, 2.0, -2.0][r] + noise.normal(5.0))
                    .max(2.0);
            let search_k = (8.0 + [1.0, 0.0, -0.5, 0.5][s] + noise.normal(2.0)).max(0.5);
            let on_promo = noise.chance(if s == 0 { 0.4 } else { 0.25 });
            let basket = 25.0 - 2.0 * on_promo + [0.0, -1.0, 1.0, 0.5][r] + noise.normal(1.0);
            let v = 4800.0 + TV_TO_VISITS * tv_k + 500.0 * on_promo - 40.0 * basket - 8.0 * temp
                + [0.0, 150.0, 300.0, -100.0][r]
                + [200.0, 0.0, -150.0, 50.0][s]
                + store_shift
                + noise.normal(300.0);
            let w = 2000.0
                + 40.0 * tv_k
                + SEARCH_TO_WEB * search_k
                + 300.0 * on_promo
                + 5.0 * temp
                + noise.normal(200.0);
            let store_k = VISITS_TO_SALES * v + TV_TO_SALES * tv_k + 8.0 * on_promo - basket
                + noise.normal(6.0);
            let online_k = WEB_TO_ONLINE * w + 5.0 * on_promo - 0.5 * basket + noise.normal(4.0);
            let returned =
                3.0 + 1.5 * on_promo + 0.1 * basket + [0.0, 0.3, -0.2, 0.1][r] + noise.normal(0.8);
            region.push(REGIONS[r]);
            season.push(SEASONS[s]);
            temperature.push(temp);
            tv.push(tv_k);
            search.push(search_k);
            promo.push(on_promo);
            price.push(basket);
            visits.push(v);
            web.push(w);
            sales.push(store_k);
            online.push(online_k);
            returns.push(returned);
        }
    }
    t.labels("region", &region);
    t.labels("season", &season);
    t.numbers("temperature", &temperature);
    t.numbers("tv_spend", &tv);
    t.numbers("search_spend", &search);
    t.flags("promo", &promo);
    t.numbers("price", &price);
    t.numbers("store_visits", &visits);
    t.numbers("web_visits", &web);
    t.numbers("store_sales", &sales);
    t.numbers("online_sales", &online);
    t.numbers("returns", &returns);
    let csv = t.csv();
    let data = Dataset::from_csv_str(&csv, "demo:retail", &LoadOptions::default())?;
    let graph = graph_of(&[
        ("region", "temperature"),
        ("season", "temperature"),
        ("region", "tv_spend"),
        ("season", "tv_spend"),
        ("season", "search_spend"),
        ("season", "promo"),
        ("region", "price"),
        ("promo", "price"),
        ("tv_spend", "store_visits"),
        ("promo", "store_visits"),
        ("price", "store_visits"),
        ("temperature", "store_visits"),
        ("region", "store_visits"),
        ("season", "store_visits"),
        ("tv_spend", "web_visits"),
        ("search_spend", "web_visits"),
        ("promo", "web_visits"),
        ("temperature", "web_visits"),
        ("store_visits", "store_sales"),
        ("tv_spend", "store_sales"),
        ("promo", "store_sales"),
        ("price", "store_sales"),
        ("web_visits", "online_sales"),
        ("promo", "online_sales"),
        ("price", "online_sales"),
        ("promo", "returns"),
        ("price", "returns"),
        ("region", "returns"),
    ])?;
    let tv_total = TV_TO_SALES + TV_TO_VISITS * VISITS_TO_SALES;
    let mean_tv = mean(tv.iter().copied());
    let mean_search = mean(search.iter().copied());
    let truths = vec![
        TrueEffect {
            intervention: Intervention::new("tv_spend", Op::Scale, 0.9),
            target: "store_sales".into(),
            change: -0.1 * mean_tv * tv_total,
        },
        TrueEffect {
            intervention: Intervention::new("tv_spend", Op::Scale, 0.9),
            target: "online_sales".into(),
            change: -0.1 * mean_tv * 40.0 * WEB_TO_ONLINE,
        },
        TrueEffect {
            intervention: Intervention::new("search_spend", Op::Scale, 1.2),
            target: "online_sales".into(),
            change: 0.2 * mean_search * SEARCH_TO_WEB * WEB_TO_ONLINE,
        },
    ];
    let notes = BTreeMap::from([
        (
            "region".to_string(),
            note("region", &["sales region", "地區", "區域"], None),
        ),
        (
            "season".to_string(),
            note("season", &["quarter", "季節", "季度"], None),
        ),
        (
            "temperature".to_string(),
            note(
                "temperature",
                &["weather", "weekly temperature", "氣溫", "天氣", "溫度"],
                Some("°C"),
            ),
        ),
        (
            "tv_spend".to_string(),
            note(
                "TV advertising",
                &[
                    "TV ads",
                    "TV",
                    "television",
                    "TV spend",
                    "TV budget",
                    "電視廣告",
                    "電視",
                ],
                Some("k$ per week"),
            ),
        ),
        (
            "search_spend".to_string(),
            note(
                "search advertising",
                &[
                    "search ads",
                    "search",
                    "SEM",
                    "paid search",
                    "搜尋廣告",
                    "關鍵字廣告",
                ],
                Some("k$ per week"),
            ),
        ),
        (
            "promo".to_string(),
            note(
                "promotion",
                &[
                    "promotions",
                    "promo week",
                    "discount campaign",
                    "促銷",
                    "促銷活動",
                ],
                None,
            ),
        ),
        (
            "price".to_string(),
            note(
                "average basket price",
                &["prices", "basket price", "價格", "售價"],
                Some("$"),
            ),
        ),
        (
            "store_visits".to_string(),
            note(
                "store visits",
                &["foot traffic", "visits", "來客數", "門市來客"],
                Some("visits per week"),
            ),
        ),
        (
            "web_visits".to_string(),
            note(
                "web visits",
                &["website visits", "site traffic", "網站流量", "網站造訪"],
                Some("sessions per week"),
            ),
        ),
        (
            "store_sales".to_string(),
            note(
                "store sales",
                &["sales", "in-store sales", "門市銷售", "銷售", "營業額"],
                Some("k$ per week"),
            ),
        ),
        (
            "online_sales".to_string(),
            note(
                "online sales",
                &["e-commerce sales", "web sales", "線上銷售", "網路銷售"],
                Some("k$ per week"),
            ),
        ),
        (
            "returns".to_string(),
            note(
                "returns",
                &["returned goods", "product returns", "退貨", "退貨金額"],
                Some("k$ per week"),
            ),
        ),
    ]);
    Ok(DemoScenario {
        name: "retail",
        title: "Retail marketing mix: TV, search, promotions and price across 40 stores, two years of weeks, with region, season and weather".into(),
        data,
        graph,
        levers: strings(&["tv_spend", "search_spend", "promo", "price"]),
        kpis: strings(&["store_sales", "online_sales", "returns"]),
        notes,
        questions: strings(&[
            MISSION_QUESTION_EN,
            MISSION_QUESTION_ZH,
            "What happens to online sales if we raise search ads by 20%?",
            "If we lower the price by 5%, which KPIs are affected?",
            "What happens to returns if we cut TV ads by 10%?",
            "如果把搜尋廣告增加20%，線上銷售會怎樣？",
            "如果把價格調低5%，哪些KPI會受影響？",
        ]),
        mechanism: MechanismChoice::Linear,
        extra_assumptions: Vec::new(),
        truths,
        csv,
    })
}

// Factory: the defect rate is a parabola in oven temperature with its minimum here.
const OPTIMAL_OVEN: f64 = 185.0;
const OVEN_CURVATURE: f64 = 0.012;
const OVEN_TO_ENERGY: f64 = 2.5;

fn factory(seed: u64) -> causeway_estimators::Result<DemoScenario> {
    const LOTS: [&str; 6] = ["A-101", "A-102", "B-201", "B-202", "C-301", "C-302"];
    const LOT_DEFECTS: [f64; 6] = [0.0, 0.2, -0.3, 0.1, 0.6, 0.4];
    let runs = 3000;
    let mut noise = Noise::new(seed, 2);
    let mut t = Table::default();
    let mut lot = Vec::new();
    let (mut humidity, mut oven, mut speed, mut pressure) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut defects, mut yields, mut throughput, mut energy) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        // Lots arrive in sequence, 150 runs each.
        let l = (run / 150) % LOTS.len();
        let h = 55.0 + noise.normal(8.0);
        let o = 180.0 + 0.2 * (h - 55.0) + noise.normal(7.0);
        let v = 60.0 + noise.normal(6.0);
        let p = 6.0 + noise.normal(0.6);
        let d = 2.0 + OVEN_CURVATURE * (o - OPTIMAL_OVEN).powi(2) + 0.06 * (v - 60.0)
            - 0.5 * (p - 6.0)
            + LOT_DEFECTS[l]
            + 0.03 * (h - 55.0)
            + noise.normal(0.3);
        let y = 97.0 - d - 0.05 * (v - 60.0) + noise.normal(0.5);
        let good = 0.6 * v * y + noise.normal(40.0);
        let e = 200.0
            + OVEN_TO_ENERGY * (o - 180.0)
            + 1.5 * (v - 60.0)
            + 0.4 * (h - 55.0)
            + noise.normal(8.0);
        lot.push(LOTS[l]);
        humidity.push(h);
        oven.push(o);
        speed.push(v);
        pressure.push(p);
        defects.push(d);
        yields.push(y);
        throughput.push(good);
        energy.push(e);
    }
    t.labels("material_lot", &lot);
    t.numbers("humidity", &humidity);
    t.numbers("oven_temp", &oven);
    t.numbers("line_speed", &speed);
    t.numbers("pressure", &pressure);
    t.numbers("defect_rate", &defects);
    t.numbers("yield", &yields);
    t.numbers("throughput", &throughput);
    t.numbers("energy_cost", &energy);
    let csv = t.csv();
    let data = Dataset::from_csv_str(&csv, "demo:factory", &LoadOptions::default())?;
    let graph = graph_of(&[
        ("humidity", "oven_temp"),
        ("oven_temp", "defect_rate"),
        ("line_speed", "defect_rate"),
        ("pressure", "defect_rate"),
        ("material_lot", "defect_rate"),
        ("humidity", "defect_rate"),
        ("defect_rate", "yield"),
        ("line_speed", "yield"),
        ("line_speed", "throughput"),
        ("yield", "throughput"),
        ("oven_temp", "energy_cost"),
        ("line_speed", "energy_cost"),
        ("humidity", "energy_cost"),
    ])?;
    // Raising the oven by 5 °C moves each run along the parabola.
    let defect_change: Vec<f64> = oven
        .iter()
        .map(|o| OVEN_CURVATURE * ((o + 5.0 - OPTIMAL_OVEN).powi(2) - (o - OPTIMAL_OVEN).powi(2)))
        .collect();
    let truths = vec![
        TrueEffect {
            intervention: Intervention::new("oven_temp", Op::Shift, 5.0),
            target: "yield".into(),
            change: -mean(defect_change.iter().copied()),
        },
        TrueEffect {
            intervention: Intervention::new("oven_temp", Op::Shift, 5.0),
            target: "energy_cost".into(),
            change: OVEN_TO_ENERGY * 5.0,
        },
    ];
    let notes = BTreeMap::from([
        (
            "material_lot".to_string(),
            note(
                "material lot",
                &["lot", "material batch", "材料批次", "批次", "料號批次"],
                None,
            ),
        ),
        (
            "humidity".to_string(),
            note(
                "ambient humidity",
                &["humidity", "濕度", "環境濕度"],
                Some("% RH"),
            ),
        ),
        (
            "oven_temp".to_string(),
            note(
                "oven temperature",
                &[
                    "oven temp",
                    "oven",
                    "curing temperature",
                    "烤箱溫度",
                    "爐溫",
                ],
                Some("°C"),
            ),
        ),
        (
            "line_speed".to_string(),
            note(
                "line speed",
                &["conveyor speed", "production speed", "產線速度", "線速"],
                Some("units per minute"),
            ),
        ),
        (
            "pressure".to_string(),
            note(
                "press pressure",
                &["pressure", "壓力", "壓合壓力"],
                Some("bar"),
            ),
        ),
        (
            "defect_rate".to_string(),
            note(
                "defect rate",
                &["defects", "scrap rate", "不良率", "缺陷率"],
                Some("%"),
            ),
        ),
        (
            "yield".to_string(),
            note("yield", &["first-pass yield", "良率", "良品率"], Some("%")),
        ),
        (
            "throughput".to_string(),
            note(
                "throughput",
                &["good units per hour", "output", "產能", "產出"],
                Some("good units per hour"),
            ),
        ),
        (
            "energy_cost".to_string(),
            note(
                "energy cost",
                &["energy", "power cost", "能耗", "能源成本", "電費"],
                Some("$ per hour"),
            ),
        ),
    ]);
    Ok(DemoScenario {
        name: "factory",
        title: "Smart-factory line: oven temperature, line speed and pressure, with material lots and humidity, driving defects, yield, throughput and energy cost over 3,000 runs".into(),
        data,
        graph,
        levers: strings(&["oven_temp", "line_speed", "pressure"]),
        kpis: strings(&["defect_rate", "yield", "throughput", "energy_cost"]),
        notes,
        questions: strings(&[
            "If we raise the oven temperature by 5, what happens to yield?",
            "What happens to energy cost if we cut line speed by 10%?",
            "Which KPIs are affected if we raise pressure by 0.5?",
            "如果把烤箱溫度調高5，良率會怎樣？",
            "如果把產線速度降低10%，能耗會怎樣？",
        ]),
        mechanism: MechanismChoice::Auto,
        extra_assumptions: Vec::new(),
        truths,
        csv,
    })
}

// Onboarding: the new flow's effects on the generating equations.
const ONBOARDING_TO_ACTIVATION: f64 = 6.0;
const ACTIVATION_TO_RETENTION: f64 = 0.4;
const ONBOARDING_TO_RETENTION: f64 = 0.7;
const ACTIVATION_TO_TICKETS: f64 = -0.3;
const ONBOARDING_TO_TICKETS: f64 = -3.0;
/// The week the new flow reached the treated regions.
const ROLLOUT_WEEK: usize = 60;

fn onboarding(seed: u64) -> causeway_estimators::Result<DemoScenario> {
    const REGIONS: [&str; 6] = [
        "taipei",
        "hsinchu",
        "taichung",
        "tainan",
        "kaohsiung",
        "taoyuan",
    ];
    const TREATED: [bool; 6] = [true, true, true, false, false, false];
    const CHANNELS: [&str; 5] = ["organic", "paid_search", "social", "referral", "partner"];
    let weeks = 100;
    let mut noise = Noise::new(seed, 3);
    let week_shock: Vec<f64> = (0..weeks).map(|_| noise.normal(0.3)).collect();
    let mut t = Table::default();
    let (mut cohort, mut region, mut channel) = (Vec::new(), Vec::new(), Vec::new());
    let (mut week, mut treated, mut activation, mut retention, mut tickets) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut cohort_names = Vec::new();
    for region_name in REGIONS {
        for channel_name in CHANNELS {
            cohort_names.push(format!("{region_name}/{channel_name}"));
        }
    }
    for (r, region_name) in REGIONS.iter().enumerate() {
        for (c, channel_name) in CHANNELS.iter().enumerate() {
            let cohort_name = cohort_names[r * CHANNELS.len() + c].as_str();
            let cohort_effect = noise.normal(1.0);
            for (w, shock) in week_shock.iter().enumerate() {
                let on = if TREATED[r] && w >= ROLLOUT_WEEK {
                    1.0
                } else {
                    0.0
                };
                let a = 45.0
                    + ONBOARDING_TO_ACTIVATION * on
                    + [0.0, 2.0, -1.0, 1.0, -2.0, 0.5][r]
                    + [3.0, 0.0, -4.0, 5.0, 1.0][c]
                    + 0.03 * w as f64
                    + cohort_effect
                    + noise.normal(1.5);
                let k = 12.0
                    + ACTIVATION_TO_RETENTION * a
                    + ONBOARDING_TO_RETENTION * on
                    + [0.0, 1.0, -0.5, 0.5, -1.0, 0.0][r]
                    + [2.0, -1.0, -3.0, 3.0, 0.0][c]
                    + 0.02 * w as f64
                    + shock
                    + 0.5 * cohort_effect
                    + noise.normal(1.0);
                let s = 40.0
                    + ACTIVATION_TO_TICKETS * a
                    + ONBOARDING_TO_TICKETS * on
                    + [0.0, -2.0, 1.0, 3.0, -1.0][c]
                    + noise.normal(1.5);
                cohort.push(cohort_name);
                region.push(*region_name);
                channel.push(*channel_name);
                week.push(w as f64);
                treated.push(on);
                activation.push(a);
                retention.push(k);
                tickets.push(s);
            }
        }
    }
    t.labels("cohort", &cohort);
    t.labels("region", &region);
    t.labels("channel", &channel);
    t.numbers("week", &week);
    t.flags("new_onboarding", &treated);
    t.numbers("activation", &activation);
    t.numbers("retention_30d", &retention);
    t.numbers("support_tickets", &tickets);
    let csv = t.csv();
    let data = Dataset::from_csv_str(&csv, "demo:onboarding", &LoadOptions::default())?;
    // The rollout was decided by region and week, which every outcome's mechanism
    // has as parents; the flag is a root here because a rule (region × week) is no
    // mechanism a classifier can fit, and adjusting for both suffices.
    let graph = graph_of(&[
        ("new_onboarding", "activation"),
        ("region", "activation"),
        ("channel", "activation"),
        ("week", "activation"),
        ("activation", "retention_30d"),
        ("new_onboarding", "retention_30d"),
        ("region", "retention_30d"),
        ("channel", "retention_30d"),
        ("week", "retention_30d"),
        ("activation", "support_tickets"),
        ("new_onboarding", "support_tickets"),
        ("channel", "support_tickets"),
    ])?;
    let did = did_estimate(&data)?;
    let untreated = 1.0 - mean(treated.iter().copied());
    let retention_total =
        ONBOARDING_TO_RETENTION + ONBOARDING_TO_ACTIVATION * ACTIVATION_TO_RETENTION;
    let tickets_total = ONBOARDING_TO_TICKETS + ONBOARDING_TO_ACTIVATION * ACTIVATION_TO_TICKETS;
    let truths = vec![
        TrueEffect {
            intervention: Intervention::new("new_onboarding", Op::Set, 1.0),
            target: "retention_30d".into(),
            change: untreated * retention_total,
        },
        TrueEffect {
            intervention: Intervention::new("new_onboarding", Op::Set, 1.0),
            target: "support_tickets".into(),
            change: untreated * tickets_total,
        },
    ];
    let notes = BTreeMap::from([
        (
            "region".to_string(),
            note("region", &["market", "地區", "區域"], None),
        ),
        (
            "channel".to_string(),
            note(
                "acquisition channel",
                &["channel", "signup channel", "渠道", "獲客渠道"],
                None,
            ),
        ),
        (
            "week".to_string(),
            note("signup week", &["week", "週次", "週"], Some("week number")),
        ),
        (
            "new_onboarding".to_string(),
            note(
                "new onboarding flow",
                &[
                    "new onboarding",
                    "onboarding",
                    "onboarding flow",
                    "新版引導流程",
                    "新版引導",
                    "新手引導",
                ],
                Some("1 = new flow"),
            ),
        ),
        (
            "activation".to_string(),
            note(
                "activation rate",
                &["activation", "activated users", "啟用率", "開通率"],
                Some("% of signups"),
            ),
        ),
        (
            "retention_30d".to_string(),
            note(
                "30-day retention",
                &[
                    "retention",
                    "30 day retention",
                    "30天留存率",
                    "留存率",
                    "留存",
                ],
                Some("% of signups"),
            ),
        ),
        (
            "support_tickets".to_string(),
            note(
                "support tickets",
                &["tickets", "support load", "客服工單", "工單"],
                Some("per 1,000 signups"),
            ),
        ),
    ]);
    let pretrend = did
        .diagnostics
        .get("pretrend_p_value")
        .map_or_else(|| "not available".to_string(), |p| format!("{p:.2}"));
    let extra = format!(
        "difference-in-differences on the cohort panel ({} cohorts × {} weeks, two-way fixed effects, errors clustered by cohort): the new onboarding flow changed 30-day retention by {:+.1} pp [{:.1}, {:.1}] in the regions that got it, parallel trends assumed; pre-trend test p = {pretrend}",
        did.diagnostics.get("units").copied().unwrap_or_default(),
        did.diagnostics.get("periods").copied().unwrap_or_default(),
        did.estimate,
        did.ci_low,
        did.ci_high,
    );
    Ok(DemoScenario {
        name: "onboarding",
        title: format!("Product change: a new onboarding flow rolled out to three of six regions in week {ROLLOUT_WEEK}, measured on 30 signup cohorts over 100 weeks"),
        data,
        graph,
        levers: strings(&["new_onboarding"]),
        kpis: strings(&["retention_30d", "support_tickets"]),
        notes,
        questions: strings(&[
            "What happens to retention if we set new onboarding to 1?",
            "Which KPIs are affected if we set new onboarding to 1?",
            "如果把新版引導流程設為1，留存率會怎樣？",
            "如果把新版引導設為1，哪些KPI會受影響？",
        ]),
        mechanism: MechanismChoice::Linear,
        extra_assumptions: vec![
            extra,
            "the rollout depended only on region and week, and every outcome's mechanism adjusts for both".into(),
        ],
        truths,
        csv,
    })
}

/// The difference-in-differences estimate of the new flow's effect on 30-day
/// retention: two-way fixed effects by cohort and week.
pub fn did_estimate(data: &Dataset) -> causeway_estimators::Result<Estimate> {
    Estimator::Did {
        time: "week".into(),
        unit: Some("cohort".into()),
    }
    .estimate(
        data,
        &EffectSpec {
            treatment: "new_onboarding".into(),
            outcome: "retention_30d".into(),
            covariates: Vec::new(),
        },
    )
}

#[cfg(test)]
mod tests;
