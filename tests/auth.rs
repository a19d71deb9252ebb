//! Tokens and roles, end to end: tokens made with `causeway token create`, then
//! each route of a running `causeway serve` asked with no token, a bad one, and each
//! role's; the open mode without tokens; the login form's cookie; revoking; and
//! tokens managed by an admin over the API.

use crate::helpers::{
    causeway, form, http_request_with_headers, request_with_token, scratch_dir, Server,
};
use crate::web_chat::fit_retail;

const FIXTURE: &str = "estimators/tests/fixtures/retail-networkx.graphml";

/// `causeway token create --role ROLE` on `data_dir`: the printed token.
pub fn create_token(data_dir: &str, role: &str) -> String {
    let run = causeway(&["--data-dir", data_dir, "token", "create", "--role", role]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let token = run.stdout.trim().to_string();
    assert!(token.starts_with("cw_") && token.len() == 67, "{token:?}");
    token
}

/// The fixture stored again under `name` (before the server holds the store).
fn import_as(data_dir: &str, name: &str) {
    let run = causeway(&["--data-dir", data_dir, "import", FIXTURE, "--name", name]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

fn fixture() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE))
        .expect("fixture")
}

/// One route of the authorisation table: method, path, body (content type, text)
/// and the status expected for each credential.
type Row<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>, [u16; 5]);

#[test]
fn each_route_needs_its_role() {
    let dir = scratch_dir("auth_table");
    let data_dir = fit_retail(&dir);
    import_as(&data_dir, "copy");
    import_as(&data_dir, "copy");
    let viewer = create_token(&data_dir, "viewer");
    let analyst = create_token(&data_dir, "analyst");
    let admin = create_token(&data_dir, "admin");
    let server = Server::start(&["--data-dir", &data_dir]);

    let graphml = fixture();
    let chat = form(&[
        ("model", "retail"),
        (
            "question",
            "If we cut TV ads by 10%, what happens to store sales?",
        ),
    ]);
    let whatif = r#"{"model": "retail", "interventions": [{"variable": "tv_spend", "op": "scale", "value": 0.9}]}"#;
    let credentials: [(&str, Option<&str>); 5] = [
        ("no token", None),
        (
            "bad token",
            Some("cw_0000000000000000000000000000000000000000000000000000000000000000"),
        ),
        ("viewer", Some(&viewer)),
        ("analyst", Some(&analyst)),
        ("admin", Some(&admin)),
    ];
    // (method, path, body, expected status for each credential above). Pages send a
    // browser without a token to the login form (303); the API says 401.
    let table: Vec<Row> = vec![
        ("GET", "/?model=retail", None, [303, 303, 200, 200, 200]),
        (
            "POST",
            "/chat",
            Some(("application/x-www-form-urlencoded", chat.as_str())),
            [401, 401, 303, 303, 303],
        ),
        ("GET", "/api/v1/models", None, [401, 401, 200, 200, 200]),
        (
            "GET",
            "/api/v1/models/retail@1",
            None,
            [401, 401, 200, 200, 200],
        ),
        (
            "POST",
            "/api/v1/whatif",
            Some(("application/json", whatif)),
            [401, 401, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/models/retail@1/graphml",
            None,
            [401, 401, 200, 200, 200],
        ),
        (
            "PUT",
            "/api/v1/models/uploaded",
            Some(("application/graphml+xml", graphml.as_str())),
            [401, 401, 403, 201, 201],
        ),
        (
            "POST",
            "/api/v1/models/uploaded",
            Some(("application/graphml+xml", graphml.as_str())),
            [401, 401, 403, 201, 201],
        ),
        // Token management is for admins only.
        ("GET", "/api/v1/tokens", None, [401, 401, 403, 403, 200]),
        (
            "POST",
            "/api/v1/tokens",
            Some(("application/json", r#"{"role": "viewer", "name": "table"}"#)),
            [401, 401, 403, 403, 201],
        ),
        (
            "DELETE",
            "/api/v1/tokens/000000000000",
            None,
            [401, 401, 403, 403, 404],
        ),
        // Upload-and-fit is for analysts: the form, and the job API (unknown
        // jobs are a 404 once the role is right; a body that is not a form a 400).
        ("GET", "/fit", None, [303, 303, 403, 200, 200]),
        ("GET", "/api/v1/jobs", None, [401, 401, 403, 200, 200]),
        (
            "POST",
            "/api/v1/jobs",
            Some(("application/json", "{}")),
            [401, 401, 403, 400, 400],
        ),
        ("GET", "/api/v1/jobs/nope", None, [401, 401, 403, 404, 404]),
        (
            "GET",
            "/api/v1/jobs/nope/events",
            None,
            [401, 401, 403, 404, 404],
        ),
        (
            "POST",
            "/api/v1/jobs/nope/cancel",
            None,
            [401, 401, 403, 404, 404],
        ),
        ("GET", "/healthz", None, [200, 200, 200, 200, 200]),
        ("GET", "/readyz", None, [200, 200, 200, 200, 200]),
        // Slack checks its own signatures (and is not configured here).
        (
            "POST",
            "/slack/commands",
            Some(("application/x-www-form-urlencoded", "text=hi")),
            [404, 404, 404, 404, 404],
        ),
    ];
    for (method, path, body, expected) in &table {
        for ((who, token), status) in credentials.iter().zip(expected) {
            let response = request_with_token(&server, method, path, *token, *body);
            assert_eq!(
                response.status, *status,
                "{method} {path} with {who}: {}",
                response.body
            );
            match response.status {
                401 if path.starts_with("/api/") => {
                    assert_eq!(response.json()["error"]["code"], "unauthorized");
                    assert!(response
                        .header("www-authenticate")
                        .is_some_and(|v| v.starts_with("Bearer")));
                }
                403 if !path.starts_with("/api/") => {
                    // A page says which token is needed, and who the caller is.
                    assert!(
                        response.body.contains("analyst or admin token"),
                        "{}",
                        response.body
                    );
                    assert!(response.body.contains(who), "{}", response.body);
                }
                403 => {
                    // The refusal names the caller's role.
                    let error = response.json();
                    assert_eq!(error["error"]["code"], "forbidden");
                    assert!(
                        error["error"]["message"].as_str().unwrap().contains(who),
                        "{error}"
                    );
                }
                303 if token.is_none() || *who == "bad token" => {
                    let next = path
                        .replace('/', "%2F")
                        .replace('?', "%3F")
                        .replace('=', "%3D");
                    assert_eq!(
                        response.header("location"),
                        Some(format!("/login?next={next}").as_str())
                    );
                }
                _ => {}
            }
        }
    }
    // Each analyst and admin import made one version; no one else's did.
    let (status, body) = server.get("/healthz");
    assert_eq!(status, 200, "{body}");
    let listed = request_with_token(&server, "GET", "/api/v1/models", Some(&viewer), None).json();
    let uploaded = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "uploaded")
        .expect("uploaded model listed");
    assert_eq!(uploaded["versions"], serde_json::json!([1, 2, 3, 4]));

    // DELETE: the others fail on copy@1, then the analyst deletes it and the admin copy@2.
    for (who, token) in &credentials[..3] {
        let response = request_with_token(&server, "DELETE", "/api/v1/models/copy@1", *token, None);
        let expected = if *who == "viewer" { 403 } else { 401 };
        assert_eq!(
            response.status, expected,
            "DELETE with {who}: {}",
            response.body
        );
    }
    let deleted = request_with_token(
        &server,
        "DELETE",
        "/api/v1/models/copy@1",
        Some(&analyst),
        None,
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let deleted = request_with_token(
        &server,
        "DELETE",
        "/api/v1/models/copy@2",
        Some(&admin),
        None,
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let gone = request_with_token(&server, "GET", "/api/v1/models/copy@1", Some(&viewer), None);
    assert_eq!(gone.status, 404, "{}", gone.body);
}

#[test]
fn graphml_goes_in_and_out_and_bad_documents_are_refused() {
    let dir = scratch_dir("auth_graphml");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let analyst = create_token(&data_dir, "analyst");
    let server = Server::start(&["--data-dir", &data_dir]);
    let graphml = fixture();

    let created = request_with_token(
        &server,
        "PUT",
        "/api/v1/models/shop",
        Some(&analyst),
        Some(("application/graphml+xml", &graphml)),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let created_json = created.json();
    assert_eq!(created_json["model_id"], "shop@1");
    assert_eq!(created_json["variables"], 5);
    assert_eq!(created.header("location"), Some("/api/v1/models/shop@1"));

    // Out again: a GraphML document that reads back as the stored model.
    let out = request_with_token(
        &server,
        "GET",
        "/api/v1/models/shop@1/graphml",
        Some(&analyst),
        None,
    );
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out
        .header("content-type")
        .unwrap()
        .starts_with("application/graphml+xml"));
    assert!(out.body.contains("<graphml") && out.body.contains(r#"<node id="tv_spend">"#));
    let again = request_with_token(
        &server,
        "POST",
        "/api/v1/models/shop",
        Some(&analyst),
        Some(("application/graphml+xml", &out.body)),
    );
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json()["model_id"], "shop@2");

    let bad = request_with_token(
        &server,
        "PUT",
        "/api/v1/models/shop",
        Some(&analyst),
        Some(("application/graphml+xml", "<graphml><graph")),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["error"]["code"], "invalid_graphml");
    assert!(
        bad.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("request body"),
        "{}",
        bad.body
    );

    let cyclic = graphml.replace(
        "</graph>",
        r#"<edge source="returns" target="tv_spend"/></graph>"#,
    );
    let refused = request_with_token(
        &server,
        "PUT",
        "/api/v1/models/shop",
        Some(&analyst),
        Some(("application/graphml+xml", &cyclic)),
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    let message = refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("cycle") && message.contains("tv_spend"),
        "{message}"
    );

    let empty = request_with_token(
        &server,
        "PUT",
        "/api/v1/models/shop",
        Some(&analyst),
        Some(("application/graphml+xml", "")),
    );
    assert_eq!(empty.status, 400, "{}", empty.body);
    let bad_name = request_with_token(
        &server,
        "PUT",
        "/api/v1/models/shop@3",
        Some(&analyst),
        Some(("application/graphml+xml", &graphml)),
    );
    assert_eq!(bad_name.status, 400, "{}", bad_name.body);
    let no_version = request_with_token(
        &server,
        "DELETE",
        "/api/v1/models/shop",
        Some(&analyst),
        None,
    );
    assert_eq!(no_version.status, 400, "{}", no_version.body);
    assert!(no_version.body.contains("shop@N"), "{}", no_version.body);
    let missing = request_with_token(
        &server,
        "DELETE",
        "/api/v1/models/shop@9",
        Some(&analyst),
        None,
    );
    assert_eq!(missing.status, 404, "{}", missing.body);

    // Over the limit: refused from the Content-Length alone, before the body arrives.
    let too_large = declared_length_response(&server, &analyst, 17 * 1024 * 1024);
    assert!(too_large.starts_with("HTTP/1.1 413"), "{too_large}");
    assert!(too_large.contains("too_large"), "{too_large}");

    // Versions that failed took no number: the next one is 3.
    let next = request_with_token(
        &server,
        "PUT",
        "/api/v1/models/shop",
        Some(&analyst),
        Some(("application/graphml+xml", &graphml)),
    );
    assert_eq!(next.json()["model_id"], "shop@3");
}

/// Sends the head of a PUT that declares `length` bytes and a little of the body,
/// and returns the response as text.
fn declared_length_response(server: &Server, token: &str, length: usize) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(&server.address).unwrap();
    // A server that waited for the whole body would hang the test: fail instead.
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "PUT /api/v1/models/huge HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/graphml+xml\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n<graphml>",
        server.address
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn without_tokens_everything_is_open_and_the_page_says_so() {
    let dir = scratch_dir("auth_open");
    let data_dir = fit_retail(&dir);
    let list = causeway(&["--data-dir", &data_dir, "token", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("open to everyone"), "{}", list.stdout);
    let server = Server::start(&["--data-dir", &data_dir]);

    let (status, page) = server.get("/");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("open: no tokens configured"), "{page}");
    assert!(!page.contains("Sign out"));
    let created = request_with_token(
        &server,
        "PUT",
        "/api/v1/models/open",
        None,
        Some(("application/graphml+xml", &fixture())),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let deleted = request_with_token(&server, "DELETE", "/api/v1/models/open@1", None, None);
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let (status, login) = server.get("/login");
    assert_eq!(status, 200);
    assert!(login.contains("open: no tokens configured"), "{login}");
}

#[test]
fn the_login_form_sets_a_strict_cookie_that_opens_the_chat() {
    let dir = scratch_dir("auth_login");
    let data_dir = fit_retail(&dir);
    let viewer = create_token(&data_dir, "viewer");
    let labelled = causeway(&[
        "--data-dir",
        &data_dir,
        "token",
        "create",
        "--role",
        "analyst",
        "--name",
        "alice",
        "--format",
        "json",
    ]);
    assert_eq!(labelled.code, 0, "{}", labelled.stderr);
    let alice: serde_json::Value = serde_json::from_str(&labelled.stdout).unwrap();
    let server = Server::start(&["--data-dir", &data_dir]);

    let (status, page) = server.get("/login?next=%2F%3Fmodel%3Dretail");
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"action="/login""#) && page.contains(r#"value="&#x2F;?model=retail""#),
        "{page}"
    );

    let wrong = server.post(
        "/login",
        "application/x-www-form-urlencoded",
        &form(&[("token", "cw_nope"), ("next", "/")]),
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    assert!(wrong.body.contains("not valid"), "{}", wrong.body);

    let signed_in = server.post(
        "/login",
        "application/x-www-form-urlencoded",
        &form(&[("token", &viewer), ("next", "/?model=retail")]),
    );
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.header("location"), Some("/?model=retail"));
    let cookie = signed_in
        .header("set-cookie")
        .expect("a cookie")
        .to_string();
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert_eq!(attributes[0], format!("causeway_token={viewer}"));
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            attributes.contains(&attribute),
            "{attribute} missing from {cookie}"
        );
    }

    // The cookie alone authorises the chat page, which names the role.
    let header = attributes[0].to_string();
    let chat = http_request_with_headers(
        &server.address,
        "GET",
        "/?model=retail",
        &[("Cookie", &header)],
        None,
    );
    assert_eq!(chat.status, 200, "{}", chat.body);
    assert!(
        chat.body.contains("signed in: viewer token"),
        "{}",
        chat.body
    );
    assert!(chat.body.contains("Sign out"));
    // It is a viewer's cookie: no writing with it.
    let write = http_request_with_headers(
        &server.address,
        "DELETE",
        "/api/v1/models/retail@1",
        &[("Cookie", &header)],
        None,
    );
    assert_eq!(write.status, 403, "{}", write.body);
    // A labelled token shows its label.
    let alice_cookie = format!("causeway_token={}", alice["token"].as_str().unwrap());
    let chat = http_request_with_headers(
        &server.address,
        "GET",
        "/",
        &[("Cookie", &alice_cookie)],
        None,
    );
    assert!(
        chat.body.contains("signed in: analyst token “alice”"),
        "{}",
        chat.body
    );

    // Off-site redirects are not followed after login.
    let offsite = server.post(
        "/login",
        "application/x-www-form-urlencoded",
        &form(&[("token", &viewer), ("next", "//evil.example/")]),
    );
    assert_eq!(offsite.header("location"), Some("/"));

    let out = server.post("/logout", "application/x-www-form-urlencoded", "");
    assert_eq!(out.status, 303);
    let cleared = out.header("set-cookie").unwrap();
    assert!(
        cleared.starts_with("causeway_token=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

#[test]
fn a_revoked_token_fails_from_the_next_request() {
    let dir = scratch_dir("auth_revoke");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let analyst = create_token(&data_dir, "analyst");
    let viewer = create_token(&data_dir, "viewer");
    let server = Server::start(&["--data-dir", &data_dir]);
    let ok = request_with_token(&server, "GET", "/api/v1/models", Some(&analyst), None);
    assert_eq!(ok.status, 200, "{}", ok.body);

    // The token commands work while the server runs (the store's file is locked;
    // the token file is not).
    let list = causeway(&["--data-dir", &data_dir, "token", "list", "--format", "json"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(!list.stdout.contains(&analyst[3..]) && !list.stdout.contains(&viewer[3..]));
    let listed: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(listed[0]["role"], "analyst");
    assert_eq!(listed[1]["role"], "viewer");
    let id = listed[0]["id"].as_str().unwrap();

    let revoked = causeway(&["--data-dir", &data_dir, "token", "revoke", id]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let refused = request_with_token(&server, "GET", "/api/v1/models", Some(&analyst), None);
    assert_eq!(refused.status, 401, "{}", refused.body);
    let still = request_with_token(&server, "GET", "/api/v1/models", Some(&viewer), None);
    assert_eq!(still.status, 200, "{}", still.body);

    let unknown = causeway(&["--data-dir", &data_dir, "token", "revoke", id]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no token with id"),
        "{}",
        unknown.stderr
    );
    let bad_role = causeway(&[
        "--data-dir",
        &data_dir,
        "token",
        "create",
        "--role",
        "owner",
    ]);
    assert_eq!(bad_role.code, 2, "{}", bad_role.stderr);

    // Revoking the last token reopens the server, and the command says so.
    let last = listed[1]["id"].as_str().unwrap();
    let revoked = causeway(&["--data-dir", &data_dir, "token", "revoke", last]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert!(
        revoked.stderr.contains("open to everyone"),
        "{}",
        revoked.stderr
    );
    let open = request_with_token(&server, "GET", "/api/v1/models", None, None);
    assert_eq!(open.status, 200, "{}", open.body);
}

#[test]
fn a_corrupt_token_file_stops_the_server_from_starting() {
    let dir = scratch_dir("auth_corrupt");
    let data_dir = dir.join("store");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(data_dir.join("tokens.json"), "{ half a file").unwrap();
    let data_dir = data_dir.to_string_lossy().into_owned();
    let run = causeway(&["--data-dir", &data_dir, "serve", "--addr", "127.0.0.1:0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("not a valid token file"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_admin_manages_tokens_over_the_api() {
    let dir = scratch_dir("auth_token_api");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let admin = create_token(&data_dir, "admin");
    let server = Server::start(&["--data-dir", &data_dir]);
    let create = |body: &str| {
        request_with_token(
            &server,
            "POST",
            "/api/v1/tokens",
            Some(&admin),
            Some(("application/json", body)),
        )
    };

    let listed = request_with_token(&server, "GET", "/api/v1/tokens", Some(&admin), None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    assert_eq!(listed.json()[0]["role"], "admin");

    // The new token's secret is shown once, in the shape `token create --format json` has.
    let created = create(r#"{"role": "analyst", "name": "ci"}"#);
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    let analyst = created["token"].as_str().unwrap().to_string();
    assert!(
        analyst.starts_with("cw_") && analyst.len() == 67,
        "{created}"
    );
    assert_eq!(created["role"], "analyst");
    assert_eq!(created["name"], "ci");
    let id = created["id"].as_str().unwrap().to_string();

    // Lists, over the API and on the command line, never show secrets or hashes.
    let listed = request_with_token(&server, "GET", "/api/v1/tokens", Some(&admin), None);
    let entries = listed.json();
    assert_eq!(entries.as_array().unwrap().len(), 2, "{}", listed.body);
    assert_eq!(entries[1]["id"], id.as_str());
    assert_eq!(entries[1]["name"], "ci");
    for secret in [&admin, &analyst] {
        assert!(!listed.body.contains(&secret[3..]), "{}", listed.body);
    }
    assert!(!listed.body.contains("sha256"), "{}", listed.body);
    let cli = causeway(&["--data-dir", &data_dir, "token", "list", "--format", "json"]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    assert!(cli.stdout.contains(&id), "{}", cli.stdout);

    // The analyst token works at once: it imports a model, and may not manage tokens.
    let imported = request_with_token(
        &server,
        "PUT",
        "/api/v1/models/shop",
        Some(&analyst),
        Some(("application/graphml+xml", &fixture())),
    );
    assert_eq!(imported.status, 201, "{}", imported.body);
    let refused = request_with_token(&server, "GET", "/api/v1/tokens", Some(&analyst), None);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs an admin token"),
        "{}",
        refused.body
    );

    // Revoked, it fails from the next request.
    let path = format!("/api/v1/tokens/{id}");
    let revoked = request_with_token(&server, "DELETE", &path, Some(&admin), None);
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    let read = request_with_token(&server, "GET", "/api/v1/models", Some(&analyst), None);
    assert_eq!(read.status, 401, "{}", read.body);
    let import = request_with_token(
        &server,
        "PUT",
        "/api/v1/models/shop",
        Some(&analyst),
        Some(("application/graphml+xml", &fixture())),
    );
    assert_eq!(import.status, 401, "{}", import.body);
    let again = request_with_token(&server, "DELETE", &path, Some(&admin), None);
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(again.json()["error"]["code"], "not_found");

    // Bad requests say what to send.
    let unknown_role = create(r#"{"role": "owner"}"#);
    assert_eq!(unknown_role.status, 400, "{}", unknown_role.body);
    let message = unknown_role.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("owner") && message.contains("viewer, analyst, admin"),
        "{message}"
    );
    for body in [
        "{not json",
        r#"{"name": "no role"}"#,
        r#"{"role": "viewer", "nmae": "typo"}"#,
        r#"{"role": 3}"#,
        r#"{"role": "viewer", "name": ""}"#,
    ] {
        let bad = create(body);
        assert_eq!(bad.status, 400, "{body}: {}", bad.body);
        assert_eq!(bad.json()["error"]["code"], "invalid_request", "{body}");
    }
    let count = request_with_token(&server, "GET", "/api/v1/tokens", Some(&admin), None).json();
    assert_eq!(
        count.as_array().unwrap().len(),
        1,
        "no bad request made a token"
    );

    // A token file that cannot be written is a 503, and nothing changes. The store
    // writes `tokens.json.<pid>.tmp` and renames it (see `TokenStore::write`); a
    // directory in its place makes the write fail while reads still work.
    let blocker = std::path::Path::new(&data_dir).join(format!("tokens.json.{}.tmp", server.pid()));
    std::fs::create_dir(&blocker).unwrap();
    let unwritable = create(r#"{"role": "viewer"}"#);
    assert_eq!(unwritable.status, 503, "{}", unwritable.body);
    assert_eq!(unwritable.json()["error"]["code"], "unavailable");
    let admin_id = count[0]["id"].as_str().unwrap();
    let unrevoked = request_with_token(
        &server,
        "DELETE",
        &format!("/api/v1/tokens/{admin_id}"),
        Some(&admin),
        None,
    );
    assert_eq!(unrevoked.status, 503, "{}", unrevoked.body);
    std::fs::remove_dir(&blocker).unwrap();
    let listed = request_with_token(&server, "GET", "/api/v1/tokens", Some(&admin), None);
    assert_eq!(
        listed.json().as_array().unwrap().len(),
        1,
        "{}",
        listed.body
    );
    assert_eq!(create(r#"{"role": "viewer"}"#).status, 201);
}
