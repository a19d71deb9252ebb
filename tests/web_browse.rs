//! The model browser against `causeway serve` as a process: two versions of a model
//! fitted by `causeway fit` from seeded data, where version 2 adds a cause and
//! doubles an effect, so the diff has a known answer.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::helpers::{causeway, scratch_dir, write_file, Server};

/// Exports of both versions, taken with the CLI before the server holds the store.
pub struct Fitted {
    /// The store's directory.
    pub data_dir: String,
    /// `causeway export retail@1` and `retail@2`.
    pub exports: [String; 2],
}

/// Fits `retail` twice into a fresh store under `dir`. Version 1: TV drives store
/// visits with effect 0.5. Version 2: the effect is 1.0 and season also drives
/// visits (a new edge `season → store_visits`).
pub fn fit_two_versions(dir: &std::path::Path) -> Fitted {
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let base_dag = "season->tv_spend\nseason->store_sales\ntv_spend->store_visits\nstore_visits->store_sales\n";
    for (version, tv_on_visits, season_on_visits, extra_edge) in
        [(1, 0.5, 0.0, ""), (2, 1.0, 5.0, "season->store_visits\n")]
    {
        let mut rng = ChaCha8Rng::seed_from_u64(version);
        let mut csv = String::from("season,tv_spend,store_visits,store_sales\n");
        for _ in 0..1_000 {
            let mut noise = |scale: f64| scale * rng.sample::<f64, _>(StandardNormal);
            let season = noise(1.0);
            let tv = 100.0 + 20.0 * season + noise(10.0);
            let visits = 50.0 + tv_on_visits * tv + season_on_visits * season + noise(5.0);
            let sales = 200.0 + 3.0 * visits + 10.0 * season + noise(10.0);
            csv.push_str(&format!("{season},{tv},{visits},{sales}\n"));
        }
        let data = write_file(dir, &format!("retail-{version}.csv"), &csv);
        let dag = write_file(
            dir,
            &format!("retail-{version}.dag"),
            &format!("{base_dag}{extra_edge}"),
        );
        let notes = write_file(
            dir,
            "notes.toml",
            "[tv_spend]\nlabel = \"TV advertising\"\nunit = \"USD\"\n[store_sales]\nlabel = \"store sales\"\n",
        );
        let fitted = causeway(&[
            "--data-dir",
            &data_dir,
            "fit",
            "--data",
            &data,
            "--dag",
            &dag,
            "--name",
            "retail",
            "--levers",
            "tv_spend",
            "--kpis",
            "store_sales",
            "--notes",
            &notes,
        ]);
        assert_eq!(fitted.code, 0, "{}", fitted.stderr);
    }
    let export = |reference: &str| {
        let run = causeway(&["--data-dir", &data_dir, "export", reference]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    Fitted {
        exports: [export("retail@1"), export("retail@2")],
        data_dir,
    }
}

#[test]
fn the_model_list_shows_every_version_with_its_date_and_links() {
    let fitted = fit_two_versions(&scratch_dir("browse_list"));
    let server = Server::start(&["--data-dir", &fitted.data_dir]);
    let (status, body) = server.get("/models");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#"<a href="/models/retail@2">retail@2</a>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<a href="/models/retail@1">retail@1</a>"#),
        "{body}"
    );
    assert!(body.contains("scm-"), "the fitting method is shown: {body}");
    // The date of each version is the one its document records.
    let api = server
        .request("GET", "/api/v1/models/retail@1", None)
        .json();
    let created = api["created_at"].as_str().unwrap();
    assert!(body.contains(created), "{created} in {body}");
    // The chat's header links the browser.
    let (_, chat) = server.get("/");
    assert!(chat.contains(r#"href="/models""#), "{chat}");
}

#[test]
fn a_model_page_draws_the_graph_and_lists_variables_effects_and_versions() {
    let fitted = fit_two_versions(&scratch_dir("browse_model"));
    let server = Server::start(&["--data-dir", &fitted.data_dir]);
    // The bare name is the latest version.
    let (status, latest) = server.get("/models/retail");
    assert_eq!(status, 200, "{latest}");
    assert!(
        latest.contains(r#"<h2 id="model-id">retail@2</h2>"#),
        "{latest}"
    );
    let (status, first) = server.get("/models/retail@1");
    assert_eq!(status, 200, "{first}");
    assert!(first.contains(r#"<h2 id="model-id">retail@1</h2>"#));

    // The picture: one node per variable, coloured by role, effects on the edges.
    assert!(latest.contains(r#"<svg xmlns="http://www.w3.org/2000/svg" class="model-graph""#));
    for (name, role) in [
        ("tv_spend", "lever"),
        ("store_sales", "kpi"),
        ("store_visits", "mediator"),
        ("season", "confounder"),
    ] {
        assert_eq!(
            latest
                .matches(&format!(r#"data-name="{name}" data-role="{role}""#))
                .count(),
            1,
            "{name} as {role}: {latest}"
        );
    }
    assert!(latest.contains(r#"class="edge" data-from="season" data-to="store_visits""#));
    assert!(!first.contains(r#"class="edge" data-from="season" data-to="store_visits""#));
    assert!(latest.contains(r#"class="legend""#));

    // Variables with support statistics, mechanism and held-out fit; effects with
    // intervals.
    assert!(
        latest.contains(r#"<tr data-name="store_visits">"#),
        "{latest}"
    );
    assert!(latest.contains("held-out R²"), "{latest}");
    assert!(latest.contains(r#"<tr data-source="tv_spend" data-target="store_visits">"#));
    let row_start = latest
        .find(r#"<tr data-source="tv_spend" data-target="store_visits">"#)
        .unwrap();
    let row = &latest[row_start..row_start + latest[row_start..].find("</tr>").unwrap()];
    assert!(row.contains(r#"<td class="interval">["#), "{row}");

    // Downloads, other versions and the diff are linked.
    assert!(latest.contains(r#"href="/models/retail@2/graphml""#));
    assert!(latest.contains(r#"href="/models/retail@1" data-version="1""#));
    assert!(
        latest.contains(r#"href="/models/retail/diff?from=1&amp;to=2""#),
        "{latest}"
    );
    assert!(first.contains(r#"href="/models/retail/diff?from=1&amp;to=2""#));
}

#[test]
fn the_graphml_download_is_what_causeway_export_prints() {
    let fitted = fit_two_versions(&scratch_dir("browse_graphml"));
    let server = Server::start(&["--data-dir", &fitted.data_dir]);
    for (reference, export) in [
        ("retail@1", &fitted.exports[0]),
        ("retail", &fitted.exports[1]),
    ] {
        let response = server.request("GET", &format!("/models/{reference}/graphml"), None);
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(&response.body, export, "{reference}");
        assert!(response
            .header("content-type")
            .unwrap()
            .starts_with("application/graphml+xml"));
    }
    let response = server.request("GET", "/models/retail/graphml", None);
    let disposition = response.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with(r#"attachment; filename="retail@2.graphml""#),
        "{disposition}"
    );
}

#[test]
fn the_diff_shows_the_added_edge_and_the_effect_that_moved() {
    let fitted = fit_two_versions(&scratch_dir("browse_diff"));
    let server = Server::start(&["--data-dir", &fitted.data_dir]);
    let (status, body) = server.get("/models/retail/diff?from=1&to=2");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#"<tr class="added" data-source="season" data-target="store_visits">"#),
        "{body}"
    );
    // 0.5 → 1.0 with intervals of a few hundredths: beyond them.
    let row_start = body
        .find(r#"<tr data-source="tv_spend" data-target="store_visits">"#)
        .unwrap_or_else(|| panic!("no changed effect: {body}"));
    let row = &body[row_start..row_start + body[row_start..].find("</tr>").unwrap()];
    let cell = |class: &str| -> f64 {
        let at = row.find(&format!(r#"class="{class}">"#)).unwrap() + class.len() + 9;
        row[at..at + row[at..].find('<').unwrap()].parse().unwrap()
    };
    assert!((cell("old-effect") - 0.5).abs() < 0.1, "{row}");
    assert!((cell("new-effect") - 1.0).abs() < 0.1, "{row}");
    // Unchanged edges are not reported: store_visits → store_sales is 3 in both.
    assert!(!body.contains(r#"data-source="store_visits" data-target="store_sales""#));
    // Without versions named, the two latest are compared.
    let (status, latest) = server.get("/models/retail/diff");
    assert_eq!(status, 200);
    assert!(latest.contains("version 1 → 2"), "{latest}");
    // A version compared with itself has no changes.
    let (_, same) = server.get("/models/retail/diff?from=2&to=2");
    assert!(same.contains(r#"class="unchanged""#), "{same}");
}

#[test]
fn unknown_models_are_404_pages_and_malformed_references_400() {
    let fitted = fit_two_versions(&scratch_dir("browse_errors"));
    let server = Server::start(&["--data-dir", &fitted.data_dir]);
    for path in [
        "/models/retail@7",
        "/models/nothing",
        "/models/retail@7/graphml",
        "/models/nothing/diff",
        "/models/retail/diff?from=1&to=9",
    ] {
        let (status, body) = server.get(path);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains("No such model"), "{path}: {body}");
    }
    let (_, body) = server.get("/models/retail@7");
    assert!(
        body.contains("retail@1"),
        "the page names what is stored: {body}"
    );
    for path in [
        "/models/retail@x",
        "/models/retail@0/graphml",
        "/models/bad%20name",
        "/models/retail/diff?from=one&to=2",
        "/models/retail@1/diff",
    ] {
        let (status, body) = server.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("Not a model reference"), "{path}: {body}");
    }
}
