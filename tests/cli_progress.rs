//! Progress bars of the long commands: drawn on standard error when it is a
//! terminal and the output is text, never under `--format json` or in a pipe, and
//! never mixed into standard output.

use std::path::Path;

use crate::helpers::{causeway, causeway_in_terminal, scratch_dir, Run};
use crate::web_chat::fit_retail;

/// What the bar draws: its stage texts, its brackets and the terminal codes that
/// redraw and clear it.
const BAR_MARKS: [&str; 7] = [
    "\u{1b}",
    "\r",
    "fitting `",
    "bootstrap refits",
    "testing pairs",
    "placebo treatment",
    "[=",
];

#[track_caller]
fn assert_no_bar(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what}: {}", run.stderr);
    for mark in BAR_MARKS {
        assert!(
            !run.stderr.contains(mark),
            "{what} drew {mark:?}: {:?}",
            run.stderr
        );
    }
    assert_eq!(run.stderr, "", "{what} wrote to standard error");
    // Standard output may name the stages in words ("… of 100 bootstrap refits"),
    // but never carries the bar's terminal codes.
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stdout.contains('\r'),
        "{what}: {:?}",
        run.stdout
    );
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// `causeway fit` of `data` and `dag`, written to `output` and not to the store.
fn fit_args<'a>(data: &'a str, dag: &'a str, output: &'a str, format: &'a str) -> Vec<&'a str> {
    vec![
        "fit",
        "--data",
        data,
        "--dag",
        dag,
        "--name",
        "retail",
        "--levers",
        "tv_spend",
        "--kpis",
        "store_sales,returns",
        "--no-save",
        "--output",
        output,
        "--format",
        format,
    ]
}

fn whatif_args<'a>(model: &'a str, format: &'a str) -> Vec<&'a str> {
    vec![
        "whatif",
        "--model",
        model,
        "--do",
        "tv_spend*=0.9",
        "--bootstrap",
        "100",
        "--format",
        format,
    ]
}

#[test]
fn json_and_pipes_get_no_bar() {
    let dir = scratch_dir("progress_pipes");
    fit_retail(&dir);
    let (data, dag) = (path(&dir, "retail.csv"), path(&dir, "retail.dag"));
    let (model, output) = (path(&dir, "retail.graphml"), path(&dir, "again.graphml"));

    let fit = causeway(&fit_args(&data, &dag, &output, "json"));
    assert_no_bar(&fit, "fit --format json");
    let report: serde_json::Value = serde_json::from_str(&fit.stdout)
        .unwrap_or_else(|e| panic!("fit printed more than JSON ({e}): {}", fit.stdout));
    assert_eq!(report["saved"], false);
    assert_eq!(report["variables"].as_array().unwrap().len(), 5);
    let text = causeway(&fit_args(&data, &dag, &output, "text"));
    assert_no_bar(&text, "fit in a pipe");
    assert!(text
        .stdout
        .starts_with("structural causal model fitted on 2000 rows"));

    let answer = causeway(&whatif_args(&model, "json"));
    assert_no_bar(&answer, "whatif --format json");
    let answer: serde_json::Value = serde_json::from_str(&answer.stdout)
        .unwrap_or_else(|e| panic!("whatif printed more than JSON ({e}): {}", answer.stdout));
    assert!(answer["effects"][0]["ci_low"].is_number(), "{answer}");
    assert_no_bar(&causeway(&whatif_args(&model, "text")), "whatif in a pipe");

    assert_no_bar(
        &causeway(&["discover", "--data", &data]),
        "discover in a pipe",
    );
    assert_no_bar(
        &causeway(&[
            "estimate",
            "--data",
            &data,
            "--dag",
            &dag,
            "--treatment",
            "tv_spend",
            "--outcome",
            "store_sales",
            "--method",
            "ols",
            "--refute",
            "--bootstrap",
            "20",
        ]),
        "estimate --refute in a pipe",
    );
}

#[test]
fn a_terminal_shows_the_bar_and_standard_output_is_unchanged() {
    let dir = scratch_dir("progress_terminal");
    fit_retail(&dir);
    let (data, dag) = (path(&dir, "retail.csv"), path(&dir, "retail.dag"));
    let (model, output) = (path(&dir, "retail.graphml"), path(&dir, "again.graphml"));
    let captured = dir.join("stdout.txt");
    let read_captured = || std::fs::read_to_string(&captured).expect("the captured stdout");

    // Text on a terminal: the bar's stages show on standard error, then it clears
    // itself; standard output is byte for byte what a pipe gets.
    let piped = causeway(&fit_args(&data, &dag, &output, "text"));
    let shown = causeway_in_terminal(&fit_args(&data, &dag, &output, "text"), &captured);
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    for stage in ["fitting `tv_spend`", "fitting `store_sales`", "/5"] {
        assert!(
            shown.stdout.contains(stage),
            "no {stage:?} in {:?}",
            shown.stdout
        );
    }
    assert!(
        shown.stdout.trim_end_matches(' ').ends_with("\r\u{1b}[2K"),
        "the bar is not cleared at the end: {:?}",
        shown.stdout
    );
    assert_eq!(read_captured(), piped.stdout);

    let piped = causeway(&whatif_args(&model, "text"));
    let shown = causeway_in_terminal(&whatif_args(&model, "text"), &captured);
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    assert!(
        shown.stdout.contains("bootstrap refits") && shown.stdout.contains("/100"),
        "{:?}",
        shown.stdout
    );
    assert_eq!(read_captured(), piped.stdout);

    // JSON on a terminal: no bar at all, and the same JSON as in a pipe.
    let piped = causeway(&whatif_args(&model, "json"));
    let shown = causeway_in_terminal(&whatif_args(&model, "json"), &captured);
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    assert_eq!(
        shown.stdout, "",
        "whatif --format json drew on the terminal"
    );
    assert_eq!(read_captured(), piped.stdout);
}
