//! Shared helpers: find (and if needed build) the `causeway` binary, run it, and
//! write scratch files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `causeway` binary of this build. The binary belongs to another package of
/// the workspace, so Cargo does not build it for these tests by itself: build it
/// once (a no-op when it is up to date) next to this test executable.
pub fn causeway_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // Build in the profile these tests were built in, where the lookup below
        // finds the binary.
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "-p", "causeway", "--bin", "causeway"]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the causeway binary failed");
        let test_executable = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/e2e-<hash> → target/<profile>/causeway
        let profile_dir = test_executable
            .parent()
            .and_then(Path::parent)
            .expect("test executable lives in target/<profile>/deps");
        let binary = profile_dir.join(format!("causeway{}", std::env::consts::EXE_SUFFIX));
        assert!(binary.exists(), "{} was not built", binary.display());
        binary
    })
}

/// The result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The settings a test run may carry in its environment (the test script points
/// `CAUSEWAY_NEO4J_URI` at its Neo4j); processes started by tests get only what the
/// test passes explicitly, so each test says which store it uses.
const SETTINGS_ENV: [&str; 9] = [
    "CAUSEWAY_ADDR",
    "CAUSEWAY_DATA_DIR",
    "CAUSEWAY_NEO4J_URI",
    "CAUSEWAY_NEO4J_USER",
    "CAUSEWAY_NEO4J_PASSWORD",
    "CAUSEWAY_SLACK_SIGNING_SECRET",
    "CAUSEWAY_SLACK_BOT_TOKEN",
    "CAUSEWAY_SLACK_API_URL",
    "CAUSEWAY_PUBLIC_URL",
];

/// A `causeway` command with `args`, run from the repository root, with the
/// settings environment cleared and `env` set.
pub fn causeway_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(causeway_binary());
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for name in SETTINGS_ENV {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

/// Runs `causeway` with `args` (on the embedded store unless `args` say otherwise).
pub fn causeway(args: &[&str]) -> Run {
    causeway_with_env(args, &[])
}

/// Runs `causeway` with `args` and the given settings environment.
pub fn causeway_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    causeway_command(args, env)
        .output()
        .expect("causeway runs")
        .into()
}

/// Runs `causeway` with `args` on a terminal, as a person at a shell does: its
/// standard input and standard error are a pseudo-terminal (util-linux `script`)
/// and its standard output goes to `stdout_file`. The returned `stdout` is what the
/// terminal showed (standard error's bytes, escape codes and all); `stderr` is
/// `script`'s own.
pub fn causeway_in_terminal(args: &[&str], stdout_file: &Path) -> Run {
    let script = Command::new("script").arg("--version").output();
    assert!(
        script.is_ok_and(|o| o.status.success()),
        "this test needs `script` (util-linux) to run causeway on a pseudo-terminal; install util-linux"
    );
    // `script -c` hands the line to a shell: quote every word.
    let quote = |word: &str| format!("'{}'", word.replace('\'', r"'\''"));
    let mut line = quote(&causeway_binary().to_string_lossy());
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line.push_str(" > ");
    line.push_str(&quote(&stdout_file.to_string_lossy()));
    let mut command = Command::new("script");
    command
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null());
    for name in SETTINGS_ENV {
        command.env_remove(name);
    }
    command.output().expect("script runs").into()
}

/// The Neo4j the tests use, from `CAUSEWAY_NEO4J_URI`; `None` (after saying so)
/// when there is none, and a failure when `CAUSEWAY_REQUIRE_NEO4J=1`.
pub fn test_neo4j_uri() -> Option<String> {
    match std::env::var("CAUSEWAY_NEO4J_URI") {
        Ok(uri) if !uri.is_empty() => Some(uri),
        _ => {
            assert!(
                std::env::var("CAUSEWAY_REQUIRE_NEO4J").as_deref() != Ok("1"),
                "CAUSEWAY_REQUIRE_NEO4J=1 but CAUSEWAY_NEO4J_URI is not set: start Neo4j (./scripts/test does)"
            );
            eprintln!("skipped: CAUSEWAY_NEO4J_URI not set");
            None
        }
    }
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Writes `contents` to `name` in `dir` and returns the path as a string.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("scratch file");
    path.to_string_lossy().into_owned()
}

/// `pairs` as an `application/x-www-form-urlencoded` body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A `multipart/form-data` body of `parts`, each `(name, file name, content)`: a file
/// part with a file name, a text part without. Returns the content type (with its
/// boundary) and the body.
pub fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, String) {
    const BOUNDARY: &str = "causeway-test-boundary-5f2c9e";
    let mut body = String::new();
    for (name, file_name, content) in parts {
        body.push_str(&format!("--{BOUNDARY}\r\n"));
        match file_name {
            Some(file_name) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )),
            None => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            )),
        }
        body.push_str(content);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A `causeway serve` process on a free port, killed when dropped.
pub struct Server {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl Server {
    /// Starts `causeway [global args] serve --addr 127.0.0.1:0` and waits for its
    /// "listening on" line.
    pub fn start(global_args: &[&str]) -> Server {
        let mut args = global_args.to_vec();
        args.extend(["serve", "--addr", "127.0.0.1:0"]);
        Server::spawn(&args).0
    }

    /// Starts `causeway` with `args` (a command that serves, with `--addr` on port
    /// 0), waits for its "listening on" line and returns the server with the
    /// standard output that follows that line, to read on.
    pub fn spawn(args: &[&str]) -> (Server, std::io::BufReader<std::process::ChildStdout>) {
        Server::spawn_with_env(args, &[])
    }

    /// [`Server::spawn`] with settings in the environment (`CAUSEWAY_MAX_UPLOAD_MB`).
    pub fn spawn_with_env(
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Server, std::io::BufReader<std::process::ChildStdout>) {
        use std::io::BufRead;
        let mut child = causeway_command(args, env)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("causeway serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let mut reader = std::io::BufReader::new(stdout);
        reader.read_line(&mut line).expect("a first line");
        let address = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        (Server { child, address }, reader)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path`: the status code and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let response = self.request("GET", path, None);
        (response.status, response.body)
    }

    /// `POST path` with a body of the given content type.
    pub fn post(&self, path: &str, content_type: &str, body: &str) -> Response {
        self.request("POST", path, Some((content_type, body)))
    }

    /// One HTTP/1.1 request to this server on a fresh connection.
    pub fn request(&self, method: &str, path: &str, body: Option<(&str, &str)>) -> Response {
        http_request(&self.address, method, path, body)
    }
}

/// One HTTP/1.1 request to `address` (`HOST:PORT`) on a fresh connection, with an
/// optional `(content type, body)`; the response is read to the end.
pub fn http_request(
    address: &str,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> Response {
    http_request_with_headers(address, method, path, &[], body)
}

/// [`http_request`] with extra request headers.
pub fn http_request_with_headers(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> Response {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)
        .unwrap_or_else(|e| panic!("cannot connect to {address}: {e}"));
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, body)) = body {
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        request.push_str("Content-Length: 0\r\n\r\n");
    }
    stream.write_all(request.as_bytes()).expect("request sent");
    // Read the head, then the body by its Content-Length when there is one: some
    // servers (chromedriver) keep the connection open despite `Connection: close`.
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let read = stream.read(&mut buffer).expect("response read");
        assert!(
            read > 0,
            "connection closed before the response head: {received:?}"
        );
        received.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = received.split_off(head_end + 4);
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    match length {
        Some(length) => {
            while body.len() < length {
                let read = stream.read(&mut buffer).expect("response read");
                assert!(read > 0, "connection closed inside the body");
                body.extend_from_slice(&buffer[..read]);
            }
            body.truncate(length);
        }
        None => {
            stream.read_to_end(&mut body).expect("response read");
        }
    }
    Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// One request to `server` with an optional bearer token (none: no
/// `Authorization` header) and an optional `(content type, body)`.
pub fn request_with_token(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &str)>,
) -> Response {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("Authorization", b)])
        .unwrap_or_default();
    http_request_with_headers(&server.address, method, path, &headers, body)
}

/// An HTTP response as the tests read it.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Response {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
