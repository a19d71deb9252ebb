//! Upload-and-fit through the API against `causeway serve` as a process: a CSV and
//! a DAG become a new model version whose effect matches the data's known truth,
//! with progress streamed as server-sent events; bad uploads are refused and leave
//! nothing behind; a cancelled job saves nothing.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::auth::create_token;
use crate::helpers::{
    causeway, form, http_request_with_headers, multipart, request_with_token, scratch_dir,
    write_file, Response, Server,
};

/// The true direct effect of `x` on `y` in [`confounded`].
const TRUE_EFFECT: f64 = 2.0;

/// Seeded data from z → x, z → y, x → y (effect [`TRUE_EFFECT`]).
fn confounded(n: usize, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut csv = String::from("z,x,y\n");
    for _ in 0..n {
        let mut noise = || rng.sample::<f64, _>(StandardNormal);
        let z = 10.0 + 2.0 * noise();
        let x = 1.0 + 0.5 * z + noise();
        let y = 3.0 + TRUE_EFFECT * x + 1.5 * z + noise();
        csv.push_str(&format!("{z:.4},{x:.4},{y:.4}\n"));
    }
    csv
}

/// A chain of `width` variables, `v0 → v1 → …`, slow to fit with forests: for a
/// job that is still running when it is cancelled.
pub fn slow_chain(n: usize, width: usize) -> (String, String) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let names: Vec<String> = (0..width).map(|i| format!("v{i}")).collect();
    let mut csv = names.join(",");
    csv.push('\n');
    for _ in 0..n {
        let mut value = 0.0;
        let row: Vec<String> = (0..width)
            .map(|_| {
                value = (value * 0.8f64).sin() * 3.0 + rng.sample::<f64, _>(StandardNormal);
                format!("{value:.4}")
            })
            .collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    let dag = names
        .windows(2)
        .map(|pair| format!("{} -> {}", pair[0], pair[1]))
        .collect::<Vec<_>>()
        .join("\n");
    (csv, dag)
}

fn send(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    parts: &[(&str, Option<&str>, &str)],
) -> Response {
    if parts.is_empty() {
        return request_with_token(server, method, path, token, None);
    }
    let (content_type, body) = multipart(parts);
    request_with_token(server, method, path, token, Some((&content_type, &body)))
}

/// The `status` events of a job's stream, read until the stream ends.
fn events(server: &Server, id: &str, token: Option<&str>) -> Vec<serde_json::Value> {
    let response = send(
        server,
        "GET",
        &format!("/api/v1/jobs/{id}/events"),
        token,
        &[],
    );
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream")),
        "{:?}",
        response.headers
    );
    let mut statuses = Vec::new();
    let mut event = "";
    for line in response.body.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            event = name.trim();
        } else if let Some(data) = line.strip_prefix("data:") {
            assert_eq!(event, "status", "{}", response.body);
            statuses.push(serde_json::from_str(data.trim()).expect("JSON event data"));
        }
    }
    statuses
}

fn uploads_left(data_dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(data_dir.join("uploads")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn an_uploaded_csv_and_dag_become_a_new_version_with_progress_streamed() {
    let dir = scratch_dir("jobs_fit");
    let data_dir = dir.join("store");
    let server = Server::start(&["--data-dir", data_dir.to_str().unwrap()]);
    let csv = confounded(2_000, 1);

    let started = send(
        &server,
        "POST",
        "/api/v1/jobs",
        None,
        &[
            ("data", Some("sales.csv"), &csv),
            ("dag", Some("sales.dag"), "z -> x\nz -> y\nx -> y\n"),
            (
                "notes",
                Some("notes.toml"),
                "[x]\nlabel = \"price cut\"\naliases = [\"discount\", \"折扣\"]\nunit = \"USD\"\n",
            ),
            ("name", None, "uplift"),
            ("levers", None, "x"),
            ("kpis", None, "y"),
        ],
    );
    assert_eq!(started.status, 202, "{}", started.body);
    let job = started.json();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(
        started.header("location"),
        Some(format!("/api/v1/jobs/{id}").as_str())
    );
    assert_eq!(job["model"], "uplift");

    let statuses = events(&server, &id, None);
    let last = statuses.last().expect("at least one event");
    assert_eq!(last["state"], "succeeded", "{statuses:?}");
    assert_eq!(last["model_id"], "uplift@1");
    assert_eq!(last["done"], last["total"]);
    // Steps never go backwards, and the stream ends at the final state.
    let done: Vec<u64> = statuses
        .iter()
        .map(|s| s["done"].as_u64().unwrap())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s["state"] == "succeeded")
            .count(),
        1
    );

    // The status route agrees, and the list shows the job.
    let status = send(&server, "GET", &format!("/api/v1/jobs/{id}"), None, &[]).json();
    assert_eq!(status["state"], "succeeded");
    let list = send(&server, "GET", "/api/v1/jobs", None, &[]).json();
    assert_eq!(list[0]["id"], id.as_str());

    // The saved version carries the truth within its interval.
    let model = send(&server, "GET", "/api/v1/models/uplift@1", None, &[]).json();
    let edge = model["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "x" && e["target"] == "y")
        .expect("edge x -> y");
    let (effect, low, high) = (
        edge["effect"].as_f64().unwrap(),
        edge["ci_low"].as_f64().unwrap(),
        edge["ci_high"].as_f64().unwrap(),
    );
    assert!(low <= TRUE_EFFECT && TRUE_EFFECT <= high, "{low}..{high}");
    assert!((effect - TRUE_EFFECT).abs() < 0.1, "{effect}");
    assert_eq!(model["variables"].as_array().unwrap().len(), 3);
    // The notes name the lever the way people do.
    let lever = model["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "x")
        .unwrap();
    assert_eq!(lever["label"], "price cut", "{lever}");
    assert_eq!(lever["aliases"], serde_json::json!(["discount", "折扣"]));
    assert_eq!(lever["unit"], "USD");

    // The same request again is version 2; the uploads are gone once jobs end.
    let again = send(
        &server,
        "POST",
        "/api/v1/jobs",
        None,
        &[
            ("data", Some("sales.csv"), &csv),
            (
                "dag",
                Some("sales.dot"),
                "digraph { z -> x; z -> y; x -> y }",
            ),
            ("name", None, "uplift"),
            ("levers", None, "x"),
            ("kpis", None, "y"),
        ],
    );
    assert_eq!(again.status, 202, "{}", again.body);
    let id2 = again.json()["id"].as_str().unwrap().to_string();
    let last = events(&server, &id2, None).pop().unwrap();
    assert_eq!(last["model_id"], "uplift@2", "{last}");
    assert_eq!(uploads_left(&data_dir), Vec::<String>::new());

    // A conversation answered from uplift@1: deleting that version is a conflict
    // until forced; version 2, which no conversation used, deletes at once.
    let asked = server.post(
        "/chat",
        "application/x-www-form-urlencoded",
        &form(&[
            ("model", "uplift@1"),
            ("conversation", ""),
            (
                "question",
                "If we raise the discount by 10%, what happens to y?",
            ),
        ]),
    );
    assert_eq!(asked.status, 303, "{}", asked.body);
    let refused = send(&server, "DELETE", "/api/v1/models/uplift@1", None, &[]);
    assert_eq!(refused.status, 409, "{}", refused.body);
    let error = refused.json();
    assert_eq!(error["error"]["code"], "in_use");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 conversation answered from it"),
        "{error}"
    );
    let deleted = send(&server, "DELETE", "/api/v1/models/uplift@2", None, &[]);
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let forced = send(
        &server,
        "DELETE",
        "/api/v1/models/uplift@1?force=true",
        None,
        &[],
    );
    assert_eq!(forced.status, 204, "{}", forced.body);
    let models = send(&server, "GET", "/api/v1/models", None, &[]).json();
    assert_eq!(models, serde_json::json!([]));
}

#[test]
fn bad_uploads_are_refused_with_a_reason_and_leave_nothing() {
    let dir = scratch_dir("jobs_bad");
    let data_dir = dir.join("store");
    let data_dir_arg = data_dir.to_string_lossy().into_owned();
    let config = write_file(&dir, "causeway.toml", "max_upload_mb = 0.05\n");
    let analyst = create_token(&data_dir_arg, "analyst");
    let viewer = create_token(&data_dir_arg, "viewer");
    let server = Server::start(&["--config", &config, "--data-dir", &data_dir_arg]);
    let csv = confounded(300, 2);
    let good_dag = "z -> x\nz -> y\nx -> y\n";
    let fit = |token: Option<&str>, parts: &[(&str, Option<&str>, &str)]| {
        send(&server, "POST", "/api/v1/jobs", token, parts)
    };
    let expect = |response: Response, status: u16, code: &str, needle: &str| {
        assert_eq!(response.status, status, "{}", response.body);
        let body = response.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    };
    // Who may fit: no token 401, a viewer 403.
    expect(
        fit(None, &[("name", None, "m")]),
        401,
        "unauthorized",
        "token",
    );
    expect(
        fit(Some(&viewer), &[("name", None, "m")]),
        403,
        "forbidden",
        "analyst",
    );
    let a = Some(analyst.as_str());

    // Over the 0.05 MiB limit: 413, said in MiB.
    let big = confounded(3_000, 3);
    expect(
        fit(
            a,
            &[
                ("data", Some("big.csv"), &big),
                ("dag", Some("d.dag"), good_dag),
                ("name", None, "m"),
                ("levers", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        413,
        "too_large",
        "0.05 MiB",
    );
    // A CSV that does not match the DAG: every missing column named at once.
    expect(
        fit(
            a,
            &[
                ("data", Some("sales.csv"), &csv),
                ("dag", Some("d.dag"), "z -> x\nx -> y\nw -> y\nq -> x\n"),
                ("name", None, "m"),
                ("levers", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        422,
        "data_mismatch",
        "sales.csv has no columns `w`, `q` (its columns: z, x, y)",
    );
    // A cycle.
    expect(
        fit(
            a,
            &[
                ("data", Some("sales.csv"), &csv),
                ("dag", Some("d.dag"), "z -> x\nx -> y\ny -> z\n"),
                ("name", None, "m"),
                ("levers", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        422,
        "invalid_model",
        "cycle",
    );
    // A hidden common cause: a structural model cannot be fitted with one.
    expect(
        fit(
            a,
            &[
                ("data", Some("sales.csv"), &csv),
                ("dag", Some("d.dag"), "z -> x\nx -> y\nx <-> y\n"),
                ("name", None, "m"),
                ("levers", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        422,
        "data_mismatch",
        "hidden common cause",
    );
    // Notes for a variable the DAG does not have, with the nearest name.
    expect(
        fit(
            a,
            &[
                ("data", Some("sales.csv"), &csv),
                ("dag", Some("d.dag"), good_dag),
                ("notes", Some("notes.toml"), "[xx]\nlabel = \"price\"\n"),
                ("name", None, "m"),
                ("levers", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        400,
        "invalid_request",
        "notes.toml: unknown variable `xx`; did you mean `x`?",
    );
    // A check box that is neither on nor off.
    expect(
        fit(
            a,
            &[
                ("data", Some("sales.csv"), &csv),
                ("discover", None, "maybe"),
                ("name", None, "m"),
                ("levers", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        400,
        "invalid_request",
        "field `discover` cannot be `maybe`",
    );
    // A lever that is not in the DAG, with the nearest name.
    expect(
        fit(
            a,
            &[
                ("data", Some("sales.csv"), &csv),
                ("dag", Some("d.dag"), good_dag),
                ("name", None, "m"),
                ("levers", None, "xx"),
                ("kpis", None, "y"),
            ],
        ),
        422,
        "data_mismatch",
        "did you mean `x`",
    );
    // A misspelt field, a missing DAG, a missing CSV, a bad name, not a form.
    expect(
        fit(
            a,
            &[
                ("data", Some("sales.csv"), &csv),
                ("dag", Some("d.dag"), good_dag),
                ("name", None, "m"),
                ("lever", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        400,
        "invalid_request",
        "unknown field `lever`",
    );
    expect(
        fit(
            a,
            &[
                ("data", Some("sales.csv"), &csv),
                ("name", None, "m"),
                ("levers", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        400,
        "invalid_request",
        "upload a DAG",
    );
    expect(
        fit(
            a,
            &[
                ("dag", Some("d.dag"), good_dag),
                ("name", None, "m"),
                ("levers", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        400,
        "invalid_request",
        "field `data`",
    );
    expect(
        fit(
            a,
            &[
                ("data", Some("sales.csv"), &csv),
                ("dag", Some("d.dag"), good_dag),
                ("name", None, "no spaces please"),
                ("levers", None, "x"),
                ("kpis", None, "y"),
            ],
        ),
        400,
        "invalid_request",
        "name",
    );
    let not_a_form = http_request_with_headers(
        &server.address,
        "POST",
        "/api/v1/jobs",
        &[("Authorization", &format!("Bearer {analyst}"))],
        Some(("application/json", "{\"name\": \"m\"}")),
    );
    expect(not_a_form, 400, "invalid_request", "multipart/form-data");

    // Unknown jobs.
    expect(
        send(&server, "GET", "/api/v1/jobs/nope", a, &[]),
        404,
        "not_found",
        "no job `nope`",
    );
    expect(
        send(&server, "POST", "/api/v1/jobs/nope/cancel", a, &[]),
        404,
        "not_found",
        "no job",
    );

    // Nothing was saved, nothing is left on disk.
    let models = send(&server, "GET", "/api/v1/models", a, &[]).json();
    assert_eq!(models, serde_json::json!([]));
    assert_eq!(uploads_left(&data_dir), Vec::<String>::new());
}

#[test]
fn a_cancelled_job_saves_nothing_and_a_queued_one_never_starts() {
    let dir = scratch_dir("jobs_cancel");
    let data_dir = dir.join("store");
    let server = Server::start(&["--data-dir", data_dir.to_str().unwrap()]);
    let (csv, dag) = slow_chain(5_000, 10);
    let post = |name: &str| {
        send(
            &server,
            "POST",
            "/api/v1/jobs",
            None,
            &[
                ("data", Some("chain.csv"), &csv),
                ("dag", Some("chain.txt"), &dag),
                ("name", None, name),
                ("levers", None, "v0"),
                ("kpis", None, "v9"),
                ("mechanism", None, "forest"),
            ],
        )
    };
    let start = |name: &str| {
        let response = post(name);
        assert_eq!(response.status, 202, "{}", response.body);
        response.json()["id"].as_str().unwrap().to_string()
    };
    let running = start("slow");
    let queued = start("waiting");
    assert_eq!(
        send(&server, "GET", &format!("/api/v1/jobs/{queued}"), None, &[]).json()["state"],
        "queued",
        "one fit runs at a time"
    );
    // The queue holds 8 jobs; the ninth waiting one is refused before its upload.
    let more: Vec<String> = (1..8).map(|i| start(&format!("waiting{i}"))).collect();
    let refused = post("one-too-many");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], "busy");

    for id in more.iter().chain([&queued, &running]) {
        let cancel = send(
            &server,
            "POST",
            &format!("/api/v1/jobs/{id}/cancel"),
            None,
            &[],
        );
        assert_eq!(cancel.status, 202, "{}", cancel.body);
        assert_eq!(cancel.json()["cancel_requested"], true);
    }
    for id in more.iter().chain([&running, &queued]) {
        let last = events(&server, id, None).pop().unwrap();
        assert_eq!(last["state"], "cancelled", "{last}");
        assert!(last["model_id"].is_null(), "{last}");
    }
    let queued_events = events(&server, &queued, None);
    assert_eq!(
        queued_events.len(),
        1,
        "an ended job streams its final state once"
    );
    assert_eq!(queued_events[0]["done"], 0, "the queued job never fitted");

    // Cancelling again is a conflict; nothing was saved; the uploads are gone.
    let again = send(
        &server,
        "POST",
        &format!("/api/v1/jobs/{running}/cancel"),
        None,
        &[],
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.json()["error"]["code"], "job_finished");
    let models = send(&server, "GET", "/api/v1/models", None, &[]).json();
    assert_eq!(models, serde_json::json!([]));
    assert_eq!(uploads_left(&data_dir), Vec::<String>::new());
}

#[test]
fn the_fit_pages_work_without_javascript_and_need_an_analyst() {
    let dir = scratch_dir("jobs_pages");
    let data_dir = dir.join("store");
    let data_dir_arg = data_dir.to_string_lossy().into_owned();
    let named = causeway(&[
        "--data-dir",
        &data_dir_arg,
        "token",
        "create",
        "--role",
        "analyst",
        "--name",
        "ana",
    ]);
    assert_eq!(named.code, 0, "{}", named.stderr);
    let analyst = named.stdout.trim().to_string();
    let viewer = create_token(&data_dir_arg, "viewer");
    let server = Server::start(&["--data-dir", &data_dir_arg]);
    let csv = confounded(500, 4);
    let parts = |dag: &'static str| -> Vec<(&str, Option<&str>, &str)> {
        vec![
            ("data", Some("sales.csv"), &csv),
            ("dag", Some("d.dag"), dag),
            ("name", None, "paged"),
            ("levers", None, "x"),
            ("kpis", None, "y"),
        ]
    };

    // A viewer is told which token is needed; the form is not shown.
    let refused = send(&server, "GET", "/fit", Some(&viewer), &[]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("needs an analyst or admin token"),
        "{}",
        refused.body
    );

    let page = send(&server, "GET", "/fit", Some(&analyst), &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("enctype=\"multipart/form-data\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("at most 256 MiB"),
        "the limit is on the page"
    );

    // A CSV that does not match the DAG: the form again, with the reason, as 422.
    let mismatch = send(
        &server,
        "POST",
        "/fit",
        Some(&analyst),
        &parts("z -> x\nx -> w\n"),
    );
    assert_eq!(mismatch.status, 422, "{}", mismatch.body);
    assert!(
        mismatch.body.contains("id=\"fit-error\""),
        "{}",
        mismatch.body
    );
    assert!(
        mismatch.body.contains("has no column `w`"),
        "{}",
        mismatch.body
    );

    // A good form goes to the job's page, which refreshes itself until it ends.
    let posted = send(
        &server,
        "POST",
        "/fit",
        Some(&analyst),
        &parts("z -> x\nz -> y\nx -> y\n"),
    );
    assert_eq!(posted.status, 303, "{}", posted.body);
    let location = posted.header("location").unwrap().to_string();
    assert!(location.starts_with("/jobs/"), "{location}");
    let id = location.trim_start_matches("/jobs/").to_string();
    let last = events(&server, &id, Some(&analyst)).pop().unwrap();
    assert_eq!(last["state"], "succeeded", "{last}");
    let job_page = send(&server, "GET", &location, Some(&analyst), &[]);
    assert_eq!(job_page.status, 200, "{}", job_page.body);
    assert!(
        job_page.body.contains("data-state=\"succeeded\""),
        "{}",
        job_page.body
    );
    assert!(
        job_page.body.contains("href=\"/models/paged@1\""),
        "{}",
        job_page.body
    );
    assert!(
        !job_page.body.contains("http-equiv=\"refresh\""),
        "an ended job stops refreshing"
    );
    let listed = send(&server, "GET", "/fit", Some(&analyst), &[]);
    assert!(
        listed.body.contains(&format!("data-job=\"{id}\"")),
        "{}",
        listed.body
    );

    // The version records who saved it: the token's label.
    let model = send(
        &server,
        "GET",
        "/api/v1/models/paged@1",
        Some(&analyst),
        &[],
    )
    .json();
    assert_eq!(model["created_by"], "ana", "{model}");
    let models = send(&server, "GET", "/models", Some(&analyst), &[]);
    assert!(
        models.body.contains("<td class=\"author\">ana</td>"),
        "{}",
        models.body
    );
}
