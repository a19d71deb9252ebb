//! `causeway import`, `export` and `models` as processes, on the embedded store.

use crate::helpers::{causeway, scratch_dir, write_file};

const FIXTURE: &str = "estimators/tests/fixtures/retail-networkx.graphml";

#[test]
fn import_export_and_list_round_trip() {
    let dir = scratch_dir("models_round_trip");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let with_store = |args: &[&str]| {
        let mut full = vec!["--data-dir", data_dir.as_str()];
        full.extend_from_slice(args);
        causeway(&full)
    };
    let first = with_store(&["import", FIXTURE]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stdout.starts_with("saved retail@1"),
        "{}",
        first.stdout
    );

    let exported = with_store(&["export", "retail@1"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    assert!(exported.stdout.contains("<graphml"), "{}", exported.stdout);
    // Exporting is deterministic, and what is exported imports again.
    assert_eq!(with_store(&["export", "retail"]).stdout, exported.stdout);
    let file = write_file(&dir, "exported.graphml", &exported.stdout);
    let second = with_store(&["import", &file, "--format", "json"]);
    let saved: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(saved["model_id"], "retail@2");
    let re_exported = with_store(&["export", "retail@2"]).stdout;
    assert_eq!(
        re_exported
            .replace("retail@2", "retail@1")
            .replace(">2</data>", ">1</data>"),
        exported.stdout,
        "write → read → write must be byte-stable"
    );

    let listed = with_store(&["models", "--format", "json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "retail");
    assert_eq!(listed[0]["versions"], serde_json::json!([1, 2]));
}

#[test]
fn store_mistakes_exit_2_with_one_line() {
    let dir = scratch_dir("models_mistakes");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let broken = write_file(
        &dir,
        "broken.graphml",
        "<graphml>\n  <graph edgedefault=\"directed\">\n    <node id=\"a\">\n</graphml>\n",
    );
    let cyclic = write_file(
        &dir,
        "cyclic.graphml",
        concat!(
            "<graphml>\n<key id=\"n\" for=\"graph\" attr.name=\"name\" attr.type=\"string\"/>\n",
            "<graph edgedefault=\"directed\"><data key=\"n\">loop</data>\n",
            "<node id=\"a\"/><node id=\"b\"/><edge source=\"a\" target=\"b\"/><edge source=\"b\" target=\"a\"/>\n",
            "</graph></graphml>\n"
        ),
    );
    for (args, expected) in [
        (vec!["import", broken.as_str()], "broken.graphml:"),
        (vec!["import", cyclic.as_str()], "cycle"),
        (vec!["import", "no/such/file.graphml"], "cannot read"),
        (vec!["export", "nothing"], "no model `nothing@latest`"),
        (vec!["export", "retail@x"], "must be a number"),
        (
            vec!["import", FIXTURE, "--name", "bad name"],
            "not a model name",
        ),
    ] {
        let mut full = vec!["--data-dir", data_dir.as_str()];
        full.extend_from_slice(&args);
        let run = causeway(&full);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim_end().lines().count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected `{expected}` in {}",
            run.stderr
        );
    }
    // Nothing half-written: the store is still empty.
    let listed = causeway(&[
        "--data-dir",
        data_dir.as_str(),
        "models",
        "--format",
        "json",
    ]);
    assert_eq!(listed.stdout.trim(), "[]");
}

#[test]
fn import_and_export_through_neo4j() {
    let Some(uri) = crate::helpers::test_neo4j_uri() else {
        return;
    };
    let env = [("CAUSEWAY_NEO4J_URI", uri.as_str())];
    let name = format!("cli_{}_{}", std::process::id(), line!());
    let imported = crate::helpers::causeway_with_env(&["import", FIXTURE, "--name", &name], &env);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert!(
        imported.stdout.starts_with(&format!("saved {name}@1")),
        "{}",
        imported.stdout
    );
    let exported = crate::helpers::causeway_with_env(&["export", &name], &env);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    assert!(exported
        .stdout
        .contains(&format!("<data key=\"d0\">{name}@1</data>")));
    let listed = crate::helpers::causeway_with_env(&["models", "--format", "json"], &env);
    assert!(listed.stdout.contains(&name), "{}", listed.stdout);
}
