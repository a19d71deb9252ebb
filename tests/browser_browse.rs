//! The model browser in a real headless Chromium: from the chat's header to the
//! list of models, into a model and its layered picture, and on to the diff of its
//! two versions, reading what changed.

use crate::browser::Browser;
use crate::helpers::{scratch_dir, Server};
use crate::web_browse::fit_two_versions;

#[test]
fn a_browser_opens_a_model_sees_its_picture_and_reads_the_diff() {
    let fitted = fit_two_versions(&scratch_dir("browser-browse"));
    let server = Server::start(&["--data-dir", &fitted.data_dir]);
    let browser = Browser::start("browser-browse");

    // From the chat page's header to the list.
    browser.goto(&format!("http://{}/", server.address));
    browser.click(&browser.find("#nav-models"));
    browser.wait_for("the model list", |b| {
        b.url().ends_with("/models").then_some(())
    });
    let versions: Vec<String> = browser
        .find_all("section[data-model=retail] table.versions tbody tr td:first-child")
        .iter()
        .map(|cell| browser.text(cell))
        .collect();
    assert_eq!(versions, ["retail@2", "retail@1"]);

    // Into the model: its picture has a node per variable, coloured by role.
    browser.click(&browser.find("section[data-model=retail] a.model-name"));
    let title = browser.wait_for("the model page", |b| {
        b.find_all("#model-id").first().map(|t| b.text(t))
    });
    assert_eq!(title, "retail@2");
    let fill = |role: &str| -> String {
        let selector = format!("svg.model-graph g.node[data-role={role}] rect");
        browser
            .attribute(&browser.find(&selector), "fill")
            .unwrap_or_else(|| panic!("no fill on {selector}"))
    };
    let (lever, kpi, mediator, confounder) = (
        fill("lever"),
        fill("kpi"),
        fill("mediator"),
        fill("confounder"),
    );
    let mut colours = vec![&lever, &kpi, &mediator, &confounder];
    colours.sort();
    colours.dedup();
    assert_eq!(
        colours.len(),
        4,
        "each role has its own colour: {colours:?}"
    );
    // The legend uses the same colours.
    let legend_fill = browser
        .attribute(
            &browser.find("svg.model-graph g.legend-item[data-role=lever] rect"),
            "fill",
        )
        .unwrap();
    assert_eq!(legend_fill, lever);
    assert_eq!(
        browser.find_all("svg.model-graph g.node").len(),
        4,
        "one node per variable"
    );
    let effect_label = browser.text(
        &browser
            .find("svg.model-graph g.edge[data-from=tv_spend][data-to=store_visits] text.effect"),
    );
    assert!(
        effect_label
            .parse::<f64>()
            .is_ok_and(|e| (e - 1.0).abs() < 0.1),
        "{effect_label}"
    );

    // On to the diff of the two versions.
    browser.click(&browser.find("#diff-link"));
    browser.wait_for("the diff page", |b| {
        b.find_all("#diff-title").first().map(|_| ())
    });
    let added = browser.text(&browser.find("table.edges-changed tr.added"));
    assert!(added.contains("season → store_visits"), "{added}");
    assert!(added.contains("added"), "{added}");
    let changed = browser
        .find_all("table.effects-changed tbody tr td")
        .iter()
        .map(|cell| browser.text(cell))
        .collect::<Vec<_>>();
    assert_eq!(changed[0], "tv_spend → store_visits", "{changed:?}");
    let old: f64 = changed[1].parse().unwrap();
    let new: f64 = changed[3].parse().unwrap();
    assert!(
        (old - 0.5).abs() < 0.1 && (new - 1.0).abs() < 0.1,
        "{changed:?}"
    );
}
