//! A headless Chromium driven over the W3C WebDriver protocol by `chromedriver`
//! (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs).
//!
//! The protocol is a handful of JSON requests over HTTP, so the tests speak it with
//! the same small HTTP helper they use for the server rather than pulling in a
//! WebDriver crate and its HTTP stack. Only what the browser tests need is here:
//! open a page, find elements by CSS, read their text, type, click, run a script,
//! and wait for a condition.
//!
//! A missing browser fails the test with a message that says what to install: a
//! browser test never passes without a browser.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{http_request, scratch_dir};

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a wait for a page condition may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// A browser session, closed (and its driver stopped) when dropped.
pub struct Browser {
    driver: Child,
    driver_address: String,
    session: String,
}

/// A reference to an element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

fn program(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

impl Browser {
    /// Starts `chromedriver` on a free port and opens a headless Chromium session
    /// with a fresh profile. `CAUSEWAY_CHROMEDRIVER` and `CAUSEWAY_CHROMIUM` override
    /// the Debian paths.
    pub fn start(test: &str) -> Browser {
        let driver_path = program("CAUSEWAY_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium_path = program("CAUSEWAY_CHROMIUM", "/usr/bin/chromium");
        for path in [&driver_path, &chromium_path] {
            assert!(
                path.exists(),
                "{} is missing: install Debian's `chromium` and `chromium-driver` (.ci/run does)",
                path.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
        let driver_address = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(&driver_address).is_err() {
            assert!(
                started.elapsed() < WAIT,
                "chromedriver did not listen on {driver_address}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = scratch_dir(&format!("{test}-chromium-profile"));
        // The machine has no route out: without the background-networking switches
        // Chromium keeps trying (and failing) to reach Google's services.
        let arguments = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1280,1600".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_path.to_string_lossy(),
                "args": arguments,
            }
        }}});
        let mut browser = Browser {
            driver,
            driver_address,
            session: String::new(),
        };
        let created = browser.command("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_string();
        browser
    }

    /// One WebDriver command; returns its `value`, and fails the test on an error.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let text = body.map(|b| b.to_string());
        let response = http_request(
            &self.driver_address,
            method,
            path,
            text.as_deref().map(|t| ("application/json", t)),
        );
        let value: Value = serde_json::from_str(&response.body).unwrap_or_else(|e| {
            panic!(
                "WebDriver {method} {path}: not JSON ({e}): {}",
                response.body
            )
        });
        assert!(
            response.status == 200,
            "WebDriver {method} {path}: {} {}",
            response.status,
            value["value"]
        );
        value["value"].clone()
    }

    fn session_command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.session_command("POST", "/url", Some(json!({ "url": url })));
    }

    /// Every element matching a CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self.session_command(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .map(|elements| {
                elements
                    .iter()
                    .map(|e| Element(e[ELEMENT_KEY].as_str().expect("element id").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The one element matching a CSS selector (the first, if several).
    pub fn find(&self, css: &str) -> Element {
        self.find_all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches `{css}` on {}", self.url()))
    }

    /// The rendered text of an element.
    pub fn text(&self, element: &Element) -> String {
        self.session_command("GET", &format!("/element/{}/text", element.0), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// An attribute of an element (`None` when it has none).
    pub fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.session_command(
            "GET",
            &format!("/element/{}/attribute/{name}", element.0),
            None,
        )
        .as_str()
        .map(str::to_string)
    }

    /// Clears an input and types `text` into it.
    pub fn type_into(&self, element: &Element, text: &str) {
        self.session_command(
            "POST",
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        );
        self.session_command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        );
    }

    /// Chooses the file at `path` in a file input.
    pub fn choose_file(&self, element: &Element, path: &str) {
        self.session_command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": path })),
        );
    }

    /// Clicks an element.
    pub fn click(&self, element: &Element) {
        self.session_command(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        );
    }

    /// Runs a script in the page and returns its result.
    pub fn execute(&self, script: &str) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The current page's address.
    pub fn url(&self) -> String {
        self.session_command("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until `condition` returns `Some`, polling; fails the test after
    /// [`WAIT`] with `what` in the message.
    pub fn wait_for<T>(&self, what: &str, mut condition: impl FnMut(&Browser) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = condition(self) {
                return found;
            }
            assert!(
                started.elapsed() < WAIT,
                "timed out waiting for {what} on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http_request(
                &self.driver_address,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
