//! `causeway rca` as a process: a model fitted by `causeway fit` from seeded data,
//! then an anomaly injected into one upstream noise term and a mechanism changed
//! between two periods — each must be the top attribution — and bad input exits 2.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::Value;

use crate::helpers::{causeway, scratch_dir, write_file};

const HEADER: &str = "weather,footfall,price,sales\n";

/// weather → footfall → sales ← price, with `footfall_slope` as footfall's
/// response to weather (the mechanism the change test alters).
fn rows(n: usize, seed: u64, footfall_slope: f64) -> Vec<[f64; 4]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = || -> f64 { rng.sample(StandardNormal) };
    (0..n)
        .map(|_| {
            let weather = 20.0 + 5.0 * normal();
            let footfall = 100.0 + footfall_slope * weather + 4.0 * normal();
            let price = 10.0 + normal();
            let sales = 50.0 + 1.5 * footfall - 4.0 * price + 3.0 * normal();
            [weather, footfall, price, sales]
        })
        .collect()
}

fn csv(rows: &[[f64; 4]]) -> String {
    let mut text = String::from(HEADER);
    for r in rows {
        text.push_str(&format!(
            "{:.4},{:.4},{:.4},{:.4}\n",
            r[0], r[1], r[2], r[3]
        ));
    }
    text
}

struct Fitted {
    dir: std::path::PathBuf,
    data_dir: String,
}

impl Fitted {
    fn new(test: &str) -> Fitted {
        let dir = scratch_dir(test);
        let data = write_file(&dir, "shop.csv", &csv(&rows(3_000, 11, 2.0)));
        let dag = write_file(
            &dir,
            "shop.dag",
            "weather->footfall\nfootfall->sales\nprice->sales\n",
        );
        let data_dir = dir.join("store").to_string_lossy().into_owned();
        let fitted = causeway(&[
            "--data-dir",
            &data_dir,
            "fit",
            "--data",
            &data,
            "--dag",
            &dag,
            "--name",
            "shop",
            "--levers",
            "price",
            "--kpis",
            "sales",
        ]);
        assert_eq!(fitted.code, 0, "{}", fitted.stderr);
        Fitted { dir, data_dir }
    }

    fn rca(&self, args: &[&str]) -> crate::helpers::Run {
        let mut full = vec![
            "--data-dir",
            self.data_dir.as_str(),
            "rca",
            "--model",
            "shop",
        ];
        full.extend_from_slice(args);
        causeway(&full)
    }
}

fn top_cause(report: &Value) -> &str {
    report["results"][0]["attributions"][0]["variable"]
        .as_str()
        .expect("an attribution")
}

#[test]
fn injected_anomaly_and_changed_mechanism_are_ranked_first() {
    let fitted = Fitted::new("rca_ranked");

    // A day whose footfall noise is 10 σ high: sales is anomalous because of it.
    let mut day = rows(20, 12, 2.0);
    day[7][1] += 40.0;
    day[7][3] += 1.5 * 40.0;
    let days = write_file(&fitted.dir, "days.csv", &csv(&day));
    let run = fitted.rca(&["--data", &days, "--row", "7", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["kind"], "anomaly");
    assert_eq!(report["results"][0]["target"], "sales");
    assert_eq!(top_cause(&report), "footfall", "{report:#}");
    // Footfall's share dominates: the others are noise-sized.
    let attributions = report["results"][0]["attributions"].as_array().unwrap();
    let first = attributions[0]["contribution"].as_f64().unwrap();
    for other in &attributions[1..] {
        assert!(
            other["contribution"].as_f64().unwrap().abs() < first / 2.0,
            "{report:#}"
        );
    }

    // The text report names the same cause first.
    let text = fitted.rca(&["--data", &days, "--row", "7"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let first_line = text
        .stdout
        .lines()
        .find(|l| l.starts_with("    "))
        .expect("an attribution line");
    assert!(
        first_line.trim_start().starts_with("footfall"),
        "{}",
        text.stdout
    );

    // Footfall's response to weather doubles between the two periods; the weather
    // itself and the other mechanisms stay as they were.
    let before = write_file(&fitted.dir, "before.csv", &csv(&rows(2_000, 21, 2.0)));
    let after = write_file(&fitted.dir, "after.csv", &csv(&rows(2_000, 22, 4.0)));
    let run = fitted.rca(&["--before", &before, "--after", &after, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["kind"], "change");
    assert_eq!(top_cause(&report), "footfall", "{report:#}");
    // The truth: E[footfall] rises by 2 × E[weather] = 40, so E[sales] by 60.
    let change = report["results"][0]["change"].as_f64().unwrap();
    assert!((change - 60.0).abs() < 3.0, "{report:#}");
    let footfall_share = report["results"][0]["attributions"][0]["contribution"]
        .as_f64()
        .unwrap();
    assert!((footfall_share - 60.0).abs() < 6.0, "{report:#}");
}

#[test]
fn rca_mistakes_exit_2_with_a_clear_line() {
    let fitted = Fitted::new("rca_mistakes");
    let days = write_file(&fitted.dir, "days.csv", &csv(&rows(5, 13, 2.0)));
    let wrong = write_file(&fitted.dir, "wrong.csv", "weather,price\n1,2\n");
    for (args, expected) in [
        (vec!["--data", days.as_str(), "--row", "5"], "row 5"),
        (vec![], "say what to explain"),
        (
            vec!["--data", days.as_str(), "--row", "0", "--target", "sale"],
            "sales",
        ),
        (vec!["--data", wrong.as_str(), "--row", "0"], "footfall"),
        (vec!["--data", "no/such.csv", "--row", "0"], "no/such.csv"),
    ] {
        let run = fitted.rca(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected {expected:?} in {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    // Unknown model: also a usage error.
    let run = causeway(&[
        "--data-dir",
        &fitted.data_dir,
        "rca",
        "--model",
        "nothing",
        "--data",
        &days,
        "--row",
        "0",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}
