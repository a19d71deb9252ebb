//! Upload-and-fit in a real headless Chromium: the analyst opens the form from the
//! header, uploads a CSV and its DAG, watches the job's progress arrive over
//! server-sent events (the page is updated in place, not reloaded) and follows the
//! result to the new model version.

use crate::browser::Browser;
use crate::helpers::{scratch_dir, write_file, Server};
use crate::web_jobs::slow_chain;

#[test]
fn a_browser_uploads_a_csv_and_dag_watches_progress_and_finds_the_new_version() {
    let dir = scratch_dir("browser-fit");
    let data_dir = dir.join("store");
    // Forests on a chain of six variables on 20,000 rows: a fit of a few seconds, so the
    // job page opens while it runs.
    let (csv, dag) = slow_chain(20_000, 6);
    let csv_path = write_file(&dir, "chain.csv", &csv);
    let dag_path = write_file(&dir, "chain.dag", &dag);
    let server = Server::start(&["--data-dir", data_dir.to_str().unwrap()]);
    let browser = Browser::start("browser-fit");

    browser.goto(&format!("http://{}/models", server.address));
    browser.click(&browser.find("#nav-fit"));
    browser.wait_for("the fit form", |b| b.find_all("#fit-form").first().cloned());
    browser.type_into(&browser.find("#fit-name"), "chain");
    browser.choose_file(&browser.find("#fit-data"), &csv_path);
    browser.choose_file(&browser.find("#fit-dag"), &dag_path);
    browser.type_into(&browser.find("#fit-levers"), "v0");
    browser.type_into(&browser.find("#fit-kpis"), "v5");
    browser.execute("document.getElementById('fit-mechanism').value = 'forest'; return true;");
    browser.click(&browser.find("#fit-submit"));

    let first_state = browser.wait_for("the job page", |b| {
        let boxes = b.find_all("#job");
        boxes.first().and_then(|job| b.attribute(job, "data-state"))
    });
    assert!(
        first_state == "queued" || first_state == "running",
        "the job page opened while the fit ran, not after: {first_state}"
    );
    // A marker that a reload would lose: progress must arrive in place.
    browser.execute("window.__stillHere = true; return true;");
    let mut seen_steps = Vec::new();
    let final_state = browser.wait_for("the job to end", |b| {
        let steps = b.text(&b.find("#job-steps"));
        if seen_steps.last() != Some(&steps) {
            seen_steps.push(steps);
        }
        let state = b.attribute(&b.find("#job"), "data-state")?;
        matches!(state.as_str(), "succeeded" | "failed" | "cancelled").then_some(state)
    });
    assert_eq!(
        final_state,
        "succeeded",
        "{}",
        browser.text(&browser.find("#job"))
    );
    assert_eq!(
        browser.execute("return window.__stillHere === true;"),
        serde_json::json!(true),
        "the page was updated by its event stream, not reloaded"
    );
    // Some step between the first and the last was shown: progress arrived while
    // the fit ran, not only at its end.
    let midway = seen_steps.iter().any(|steps| {
        let (done, total) = steps.split_once(" / ").unwrap_or(("0", "0"));
        let (done, total) = (
            done.parse::<u32>().unwrap_or(0),
            total.parse::<u32>().unwrap_or(0),
        );
        done > 0 && done < total
    });
    assert!(midway, "progress was seen moving: {seen_steps:?}");
    let bar = browser.find("#job-progress");
    assert_eq!(
        browser.attribute(&bar, "value"),
        browser.attribute(&bar, "max"),
        "the bar is full"
    );
    assert!(
        browser.find_all("#job-cancel").is_empty(),
        "no cancel button once done"
    );

    // The result links to the new version's page.
    browser.click(&browser.find("#job-model"));
    let title = browser.wait_for("the model page", |b| {
        b.find_all("#model-id").first().map(|t| b.text(t))
    });
    assert_eq!(title, "chain@1");
    assert_eq!(
        browser.find_all("svg.model-graph g.node").len(),
        6,
        "its picture has the six variables"
    );
}
