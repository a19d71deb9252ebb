//! The chat and the what-if API, against `causeway serve` as a process, on a model
//! fitted by `causeway fit` from seeded data with a known answer.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::helpers::{causeway, form, scratch_dir, write_file, Server};

/// E[tv_spend]; the total effect of TV on store sales is 0.5 + 0.5 × 3 = 2, so a
/// 10% cut changes sales by 2 × (−10) = −20 in the population.
const TRUE_CHANGE_OF_A_10_PERCENT_CUT: f64 = -20.0;

/// Fits the retail model into a fresh store and serves it.
fn retail_server(test: &str) -> (Server, String) {
    let data_dir = fit_retail(&scratch_dir(test));
    (Server::start(&["--data-dir", &data_dir]), data_dir)
}

/// Fits the retail model (seeded data, labels and English and Chinese aliases)
/// into a store under `dir` and returns the store's directory.
pub fn fit_retail(dir: &std::path::Path) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut csv = String::from("season,tv_spend,store_visits,store_sales,returns\n");
    for _ in 0..2_000 {
        let season: f64 = rng.sample(StandardNormal);
        let noise = |rng: &mut ChaCha8Rng, scale: f64| scale * rng.sample::<f64, _>(StandardNormal);
        let tv = 100.0 + 20.0 * season + noise(&mut rng, 10.0);
        let visits = 50.0 + 0.5 * tv + noise(&mut rng, 5.0);
        let sales = 200.0 + 3.0 * visits + 0.5 * tv + 10.0 * season + noise(&mut rng, 10.0);
        let returns = 20.0 + 5.0 * season + noise(&mut rng, 2.0);
        csv.push_str(&format!("{season},{tv},{visits},{sales},{returns}\n"));
    }
    let data = write_file(dir, "retail.csv", &csv);
    let dag = write_file(
        dir,
        "retail.dag",
        "season->tv_spend\nseason->store_sales\nseason->returns\ntv_spend->store_visits\nstore_visits->store_sales\ntv_spend->store_sales\n",
    );
    let notes = write_file(
        dir,
        "notes.toml",
        r#"
[tv_spend]
label = "TV advertising"
aliases = ["TV ads", "TV", "電視廣告"]
unit = "USD"
[store_sales]
label = "store sales"
aliases = ["sales", "門市銷售"]
[returns]
label = "returns"
aliases = ["退貨"]
[store_visits]
label = "store visits"
aliases = ["來客數"]
"#,
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
        "retail",
        "--levers",
        "tv_spend",
        "--kpis",
        "store_sales,returns",
        "--notes",
        &notes,
        // The same model as files too, for the CLI while a server holds the store.
        "--output",
        &dir.join("retail.graphml").to_string_lossy(),
    ]);
    assert_eq!(fitted.code, 0, "{}", fitted.stderr);
    data_dir
}

fn ask(server: &Server, body: serde_json::Value) -> crate::helpers::Response {
    server.post("/api/v1/whatif", "application/json", &body.to_string())
}

#[test]
fn questions_in_both_languages_and_typed_queries_get_the_engines_numbers() {
    let (server, data_dir) = retail_server("web_chat_numbers");
    let english = ask(
        &server,
        serde_json::json!({
            "question": "If we cut TV ads by 10%, what happens to store sales?"
        }),
    );
    assert_eq!(english.status, 200, "{}", english.body);
    let english = english.json();
    assert_eq!(english["kind"], "interventional");
    assert_eq!(english["translator"], "offline");
    assert_eq!(english["query"]["interventions"][0]["variable"], "tv_spend");
    assert_eq!(english["query"]["interventions"][0]["op"], "scale");
    let effect = &english["effects"][0];
    assert_eq!(effect["target"], "store_sales");
    let (low, high) = (
        effect["ci_low"].as_f64().unwrap(),
        effect["ci_high"].as_f64().unwrap(),
    );
    assert!(
        low <= TRUE_CHANGE_OF_A_10_PERCENT_CUT && TRUE_CHANGE_OF_A_10_PERCENT_CUT <= high,
        "{effect}"
    );

    // The same question in Traditional Chinese, the typed query, and the CLI give
    // the same numbers: one engine, no second path computing them.
    let chinese = ask(
        &server,
        serde_json::json!({"question": "如果把電視廣告減少10%，門市銷售會怎樣？"}),
    );
    assert_eq!(chinese.status, 200, "{}", chinese.body);
    assert_eq!(chinese.json()["effects"], english["effects"]);
    let typed = ask(
        &server,
        serde_json::json!({
            "model": "retail",
            "interventions": [{"variable": "tv_spend", "op": "scale", "value": 0.9}],
            "targets": ["store_sales"]
        }),
    );
    assert_eq!(typed.status, 200, "{}", typed.body);
    assert_eq!(typed.json()["effects"], english["effects"]);
    // One process at a time opens the embedded store: while the server runs, the
    // CLI says so and exits 2 …
    let held = causeway(&[
        "--data-dir",
        &data_dir,
        "whatif",
        "--model",
        "retail",
        "--do",
        "tv_spend*=0.9",
    ]);
    assert_eq!(held.code, 2, "{}", held.stderr);
    assert!(
        held.stderr.contains("open in another Causeway process"),
        "{}",
        held.stderr
    );
    // … and answers from the model's files with the server's numbers.
    let file = std::path::Path::new(&data_dir)
        .with_file_name("retail.graphml")
        .to_string_lossy()
        .into_owned();
    let cli = causeway(&[
        "whatif",
        "--model",
        &file,
        "--do",
        "tv_spend*=0.9",
        "--target",
        "store_sales",
        "--format",
        "json",
    ]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let cli: serde_json::Value = serde_json::from_str(&cli.stdout).unwrap();
    assert_eq!(cli["effects"], english["effects"]);

    // "Which KPIs?" lists returns as unaffected: no causal path from TV reaches it.
    let which = ask(
        &server,
        serde_json::json!({"question": "Cut TV ads by 10%: which KPIs are affected?"}),
    );
    assert_eq!(which.status, 200, "{}", which.body);
    let which = which.json();
    assert_eq!(which["unaffected"], serde_json::json!(["returns"]));
    assert_eq!(which["effects"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_questions_get_clear_replies_with_4xx() {
    let (server, _) = retail_server("web_chat_bad_input");
    let error = |response: crate::helpers::Response, status: u16| {
        assert_eq!(response.status, status, "{}", response.body);
        let body = response.json();
        assert!(
            !body["error"]["message"].as_str().unwrap().is_empty(),
            "{body}"
        );
        body
    };
    error(ask(&server, serde_json::json!({"question": "   "})), 400);
    let long = "a".repeat(10_000);
    let body = error(ask(&server, serde_json::json!({"question": long})), 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10000 characters"),
        "{body}"
    );
    let body = error(
        ask(
            &server,
            serde_json::json!({"question": "cut TV by 10%", "model": "nosuch"}),
        ),
        404,
    );
    assert_eq!(body["error"]["code"], "not_found");
    let body = error(
        ask(
            &server,
            serde_json::json!({"question": "What if we cut radio ads by 10%?"}),
        ),
        422,
    );
    assert_eq!(body["error"]["code"], "clarify");
    assert!(
        body["error"]["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "tv_spend"),
        "{body}"
    );
    let body = error(
        ask(
            &server,
            serde_json::json!({"model": "retail", "interventions": [{"variable": "tv_spnd", "op": "scale", "value": 0.9}]}),
        ),
        422,
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `tv_spend`"),
        "{body}"
    );
    error(
        server.post("/api/v1/whatif", "application/json", "{not json"),
        400,
    );

    // A KPI upstream of nothing the lever reaches is an answer, not an error.
    let returns = ask(
        &server,
        serde_json::json!({"question": "If we cut TV ads by 10%, what happens to returns?"}),
    );
    assert_eq!(returns.status, 200, "{}", returns.body);
    let returns = returns.json();
    assert_eq!(returns["unaffected"], serde_json::json!(["returns"]));
    assert!(returns["effects"].as_array().unwrap().is_empty());
}

#[test]
fn the_chat_page_answers_without_javascript_and_keeps_the_conversation() {
    let (server, _) = retail_server("web_chat_page");
    let (status, page) = server.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("<select name=\"model\""), "{page}");
    assert!(
        page.contains("If we cut TV advertising by 10%, what happens to store sales?"),
        "{page}"
    );
    assert!(
        page.contains("offline parser"),
        "the page says no language model is used"
    );

    let posted = server.post(
        "/chat",
        "application/x-www-form-urlencoded",
        &form(&[
            ("model", "retail"),
            ("conversation", ""),
            (
                "question",
                "If we cut TV ads by 10%, what happens to store sales?",
            ),
        ]),
    );
    assert_eq!(posted.status, 303, "{}", posted.body);
    let location = posted.header("location").unwrap().to_string();
    let conversation = location
        .split("c=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let (status, page) = server.get(location.split('#').next().unwrap());
    assert_eq!(status, 200);
    assert!(
        page.contains("Cutting TV advertising by 10% lowers store sales by"),
        "{page}"
    );
    assert!(page.contains("<svg"), "the paths are drawn");
    assert!(page.contains("Interventional"), "the kind is said plainly");

    // A follow-up in the same conversation, as the page's script sends it.
    let turn = server.post(
        "/chat/turn",
        "application/x-www-form-urlencoded",
        &form(&[
            ("model", "retail"),
            ("conversation", &conversation),
            ("question", "and if by 20%?"),
        ]),
    );
    assert_eq!(turn.status, 200, "{}", turn.body);
    assert_eq!(turn.header("x-conversation"), Some(conversation.as_str()));
    assert!(
        turn.body
            .contains("Cutting TV advertising by 20% lowers store sales by"),
        "{}",
        turn.body
    );
    let permalink = turn
        .body
        .split("href=\"/answers/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let (status, page) = server.get(&format!("/answers/{permalink}"));
    assert_eq!(status, 200);
    assert!(page.contains("by 20%"), "{page}");

    // A question it cannot map is asked back, in the conversation, not guessed.
    let unclear = server.post(
        "/chat/turn",
        "application/x-www-form-urlencoded",
        &form(&[
            ("model", "retail"),
            ("conversation", &conversation),
            ("question", "what about the weather?"),
        ]),
    );
    assert_eq!(unclear.status, 200);
    assert!(unclear.body.contains("turn clarify"), "{}", unclear.body);
    let (status, _) = server.get("/answers/0000");
    assert_eq!(status, 404);
}
