//! Multipart uploads streamed to disk with a size limit: fit jobs and estimates
//! receive a CSV (and a DAG) this way.
//!
//! File parts are written chunk by chunk into a fresh directory, so an upload of
//! hundreds of MiB never sits in memory. The limit counts every byte of every part
//! together; going over it stops reading at once, removes what was written and is a
//! 413. A declared `Content-Length` over the limit is refused before any byte is
//! read. Text parts (names, lists of variables) are small and kept in memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::Multipart;
use axum::http::{header, HeaderMap, StatusCode};
use tokio::io::AsyncWriteExt;

use crate::jobs::remove_upload_dir;

/// The largest text part accepted (a list of variable names, a model name).
const MAX_TEXT_BYTES: usize = 64 * 1024;

/// One file part, saved on disk.
#[derive(Clone, Debug)]
pub struct SavedFile {
    /// Where it was written (inside the upload's directory).
    pub path: PathBuf,
    /// The file name the client gave, if any (its extension picks the DAG format).
    pub file_name: Option<String>,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A whole multipart upload: files on disk, text fields in memory. Its directory
/// is removed when it is dropped, on every path (an error, a client that went away
/// mid-request), unless [`Upload::hand_over`] gave the files to a job.
#[derive(Debug)]
pub struct Upload {
    /// The directory the files are in.
    pub dir: PathBuf,
    /// File parts by field name.
    pub files: BTreeMap<String, SavedFile>,
    /// Text parts by field name (trimmed; an empty part counts as absent).
    pub fields: BTreeMap<String, String>,
    /// Whether the directory now belongs to someone else (a fit job).
    handed_over: bool,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.handed_over {
            remove_upload_dir(&self.dir);
        }
    }
}

impl Upload {
    /// A text field, if it was sent and not empty.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// Whether a check-box field is on (`on`, `true`, `1` or `yes`; [`save`] refused
    /// any other value than those and `off`, `false`, `0`, `no`).
    pub fn flag(&self, name: &str) -> bool {
        self.field(name)
            .is_some_and(|v| FLAG_ON.contains(&v.to_ascii_lowercase().as_str()))
    }

    /// A comma-separated text field as its items, trimmed; empty when absent.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.field(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// A whole-number field (from 0), if it was sent.
    pub fn whole_number(&self, name: &str) -> Result<Option<u64>, UploadError> {
        self.field(name)
            .map(|text| {
                text.parse::<u64>().map_err(|_| {
                    UploadError::Field(format!(
                        "field `{name}` must be a whole number from 0, not `{text}`"
                    ))
                })
            })
            .transpose()
    }

    /// Leaves the directory on disk when this is dropped: its new owner removes it.
    pub fn hand_over(&mut self) {
        self.handed_over = true;
    }
}

/// The words that turn a check box on, and off.
const FLAG_ON: [&str; 4] = ["on", "true", "1", "yes"];
const FLAG_OFF: [&str; 4] = ["off", "false", "0", "no"];

/// What a form field holds. Every kind but [`FieldKind::File`] arrives as text; the
/// kind tells [`save`] which parts must be files and which words a flag or a choice
/// may be (numbers are parsed by the handler), and the OpenAPI document
/// ([`form_schema`]) what to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// An uploaded file.
    File,
    /// Free text (a name, a comma-separated list of names).
    Text,
    /// A whole number from 0.
    Integer,
    /// A number.
    Number,
    /// A check box: `on`, `true`, `1` or `yes` turn it on, `off`, `false`, `0` or
    /// `no` leave it off ([`Upload::flag`]); anything else is refused.
    Flag,
    /// One of these words.
    Choice(&'static [&'static str]),
}

/// One field of a multipart form: the handler's list of these is both the check of
/// what was sent and the form's description in the OpenAPI document, so the two
/// cannot disagree.
#[derive(Clone, Copy, Debug)]
pub struct FormField {
    /// The part's name.
    pub name: &'static str,
    /// What it holds.
    pub kind: FieldKind,
    /// Whether the form is refused without it.
    pub required: bool,
    /// What it is for, for the document's readers.
    pub description: &'static str,
}

impl FormField {
    fn is_file(&self) -> bool {
        self.kind == FieldKind::File
    }
}

/// `form` as the schema of a `multipart/form-data` request body.
pub fn form_schema(form: &[FormField]) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for field in form {
        let property = ObjectBuilder::new().description(Some(field.description));
        let property = match field.kind {
            FieldKind::File => property
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))),
            FieldKind::Text => property.schema_type(Type::String),
            FieldKind::Integer => property.schema_type(Type::Integer).minimum(Some(0)),
            FieldKind::Number => property.schema_type(Type::Number),
            FieldKind::Flag => property.schema_type(Type::Boolean),
            FieldKind::Choice(words) => property
                .schema_type(Type::String)
                .enum_values(Some(words.iter().copied())),
        };
        object = object.property(field.name, property);
        if field.required {
            object = object.required(field.name);
        }
    }
    object.build()
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// More bytes than the configured limit.
    #[error("the upload is over the limit of {}; send a smaller file or raise CAUSEWAY_MAX_UPLOAD_MB", mebibytes(*limit))]
    TooLarge { limit: u64 },
    /// The body is not a well-formed multipart form.
    #[error("the upload is not a valid multipart form: {0}")]
    Malformed(String),
    /// A text part that is too long or not UTF-8.
    #[error("field `{0}` is not short UTF-8 text")]
    BadText(String),
    /// The same field was sent twice.
    #[error("field `{0}` was sent twice")]
    Duplicate(String),
    /// A field the form does not have, or a file where text belongs (or the
    /// reverse); the message says which.
    #[error("{0}")]
    Field(String),
    /// The upload could not be written (disk full, permissions).
    #[error("the upload could not be saved: {0}")]
    Disk(String),
}

impl UploadError {
    /// 413 over the limit, 500 for disk failures, otherwise 400.
    pub fn status(&self) -> StatusCode {
        match self {
            UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::Disk(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            UploadError::TooLarge { .. } => "too_large",
            UploadError::Disk(_) => "internal",
            _ => "invalid_request",
        }
    }

    /// What the client is told: the message, except for disk failures, which are
    /// logged here with their cause and reported opaquely.
    pub fn public_message(&self) -> String {
        match self {
            UploadError::Disk(cause) => {
                tracing::error!(%cause, "saving an upload failed");
                "the upload could not be saved; see the server log".into()
            }
            other => other.to_string(),
        }
    }
}

/// `limit` bytes as people read them (`256 MiB`, `0.50 MiB`; tiny limits in bytes).
pub fn mebibytes(limit: u64) -> String {
    let mib = limit as f64 / (1024.0 * 1024.0);
    if mib < 0.01 {
        format!("{limit} bytes")
    } else if mib.fract() == 0.0 {
        format!("{mib:.0} MiB")
    } else {
        format!("{mib:.2} MiB")
    }
}

/// Refuses a request whose declared length is over `limit`, before reading it. The
/// declared length includes the form's framing (a few hundred bytes), which the
/// streamed count does not.
pub fn check_declared_length(headers: &HeaderMap, limit: u64) -> Result<(), UploadError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => Err(UploadError::TooLarge { limit }),
        _ => Ok(()),
    }
}

/// Reads every part of `multipart` into `dir` (created here), counting all bytes
/// against `limit`. Each part is checked against `form` before it is read: a name
/// the form does not have (so that a misspelt one, `lever`, is not silently
/// ignored), a part sent twice, text sent for a file or a file for text, and a flag
/// or choice with another value are refused at once. So an upload holds at most
/// one part per field of the form. On any error the directory is removed.
pub async fn save(
    mut multipart: Multipart,
    dir: PathBuf,
    limit: u64,
    form: &[FormField],
) -> Result<Upload, UploadError> {
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| UploadError::Disk(format!("{}: {e}", dir.display())))?;
    let mut upload = Upload {
        dir,
        files: BTreeMap::new(),
        fields: BTreeMap::new(),
        handed_over: false,
    };
    let mut total = 0u64;
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        if upload.files.contains_key(&name) || upload.fields.contains_key(&name) {
            return Err(UploadError::Duplicate(name));
        }
        let Some(expected) = form.iter().find(|f| f.name == name) else {
            let names: Vec<&str> = form.iter().map(|f| f.name).collect();
            return Err(UploadError::Field(format!(
                "unknown field `{name}`; the form's fields are {}",
                names.join(", ")
            )));
        };
        match (expected.is_file(), field.file_name().is_some()) {
            (true, true) => {
                let index = upload.files.len();
                let saved = save_file(field, &upload.dir, index, &mut total, limit).await?;
                upload.files.insert(name, saved);
            }
            (false, false) => {
                let text = read_text(field, &name, &mut total, limit).await?;
                check_value(expected, &text)?;
                if !text.is_empty() {
                    upload.fields.insert(name, text);
                }
            }
            (true, false) => {
                return Err(UploadError::Field(format!(
                    "field `{name}` must be an uploaded file"
                )))
            }
            (false, true) => {
                return Err(UploadError::Field(format!(
                    "field `{name}` must be text, not a file"
                )))
            }
        }
    }
    Ok(upload)
}

/// Refuses a flag or a choice whose value is not one of its words.
fn check_value(field: &FormField, text: &str) -> Result<(), UploadError> {
    let word = text.to_ascii_lowercase();
    let allowed: Vec<&str> = match field.kind {
        FieldKind::Flag => FLAG_ON.iter().chain(&FLAG_OFF).copied().collect(),
        FieldKind::Choice(words) => words.to_vec(),
        _ => return Ok(()),
    };
    if text.is_empty() || allowed.contains(&word.as_str()) {
        Ok(())
    } else {
        Err(UploadError::Field(format!(
            "field `{}` cannot be `{text}`; send one of {}",
            field.name,
            allowed.join(", ")
        )))
    }
}

/// A multipart error. (The upload routes turn axum's own body limit off: the limit
/// is counted here, so that going over it is a [`UploadError::TooLarge`].)
fn malformed(error: MultipartError) -> UploadError {
    UploadError::Malformed(error.body_text())
}

async fn save_file(
    mut field: Field<'_>,
    dir: &Path,
    index: usize,
    total: &mut u64,
    limit: u64,
) -> Result<SavedFile, UploadError> {
    let file_name = field
        .file_name()
        .map(|name| name.rsplit(['/', '\\']).next().unwrap_or(name).to_string())
        .filter(|name| !name.is_empty());
    // The client's name is only used for its extension: paths are ours.
    let extension = file_name
        .as_deref()
        .and_then(|name| Path::new(name).extension())
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= 10 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_ascii_lowercase);
    let path = dir.join(match extension {
        Some(extension) => format!("part{index}.{extension}"),
        None => format!("part{index}"),
    });
    let disk = |e: std::io::Error| UploadError::Disk(format!("{}: {e}", path.display()));
    let mut file = tokio::fs::File::create(&path).await.map_err(disk)?;
    let mut bytes = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        bytes += chunk.len() as u64;
        *total += chunk.len() as u64;
        if *total > limit {
            return Err(UploadError::TooLarge { limit });
        }
        file.write_all(&chunk).await.map_err(disk)?;
    }
    file.flush().await.map_err(disk)?;
    Ok(SavedFile {
        path,
        file_name,
        bytes,
    })
}

async fn read_text(
    mut field: Field<'_>,
    name: &str,
    total: &mut u64,
    limit: u64,
) -> Result<String, UploadError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        *total += chunk.len() as u64;
        if *total > limit {
            return Err(UploadError::TooLarge { limit });
        }
        text.extend_from_slice(&chunk);
        if text.len() > MAX_TEXT_BYTES {
            return Err(UploadError::BadText(name.to_string()));
        }
    }
    String::from_utf8(text)
        .map(|t| t.trim().to_string())
        .map_err(|_| UploadError::BadText(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::FromRequest;
    use axum::http::Request;

    const BOUNDARY: &str = "b0undary";

    /// A multipart request with no `Content-Length`, as a chunked upload arrives.
    async fn multipart(parts: &[(&str, Option<&str>, &str)]) -> Multipart {
        let mut body = String::new();
        for (name, file_name, contents) in parts {
            body.push_str(&format!("--{BOUNDARY}\r\n"));
            match file_name {
                Some(file) => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\r\n"
                )),
                None => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                )),
            }
            body.push_str(contents);
            body.push_str("\r\n");
        }
        body.push_str(&format!("--{BOUNDARY}--\r\n"));
        let request = Request::builder()
            .method("POST")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(body))
            .unwrap();
        Multipart::from_request(request, &()).await.unwrap()
    }

    #[tokio::test]
    async fn files_go_to_disk_under_our_names_and_text_stays_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let upload_dir = dir.path().join("u1");
        let form = multipart(&[
            ("data", Some("../../etc/Sales.CSV"), "a,b\n1,2\n"),
            ("dag", Some("graph"), "a -> b"),
            ("name", None, "  retail \n"),
            ("levers", None, ""),
        ])
        .await;
        let upload = save(form, upload_dir.clone(), 1024, &FORM).await.unwrap();
        let data = &upload.files["data"];
        assert_eq!(
            data.path,
            upload_dir.join("part0.csv"),
            "the client's path is not used"
        );
        assert_eq!(data.file_name.as_deref(), Some("Sales.CSV"));
        assert_eq!(data.bytes, 8);
        assert_eq!(std::fs::read_to_string(&data.path).unwrap(), "a,b\n1,2\n");
        assert_eq!(upload.files["dag"].path, upload_dir.join("part1"));
        assert_eq!(upload.field("name"), Some("retail"));
        assert_eq!(
            upload.field("levers"),
            None,
            "an empty part counts as absent"
        );
        drop(upload);
        assert!(!upload_dir.exists(), "dropping an upload removes its files");
    }

    #[tokio::test]
    async fn going_over_the_limit_mid_stream_stops_and_removes_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let upload_dir = dir.path().join("u2");
        let big = "x".repeat(5_000);
        let form = multipart(&[("name", None, "m"), ("data", Some("big.csv"), &big)]).await;
        let error = save(form, upload_dir.clone(), 4_096, &FORM)
            .await
            .unwrap_err();
        assert!(
            matches!(error, UploadError::TooLarge { limit: 4_096 }),
            "{error}"
        );
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(error.to_string().contains("limit of 4096 bytes"), "{error}");
        assert!(!upload_dir.exists(), "nothing is left on disk");
    }

    #[tokio::test]
    async fn a_field_sent_twice_or_a_huge_text_part_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let twice = multipart(&[("name", None, "a"), ("name", None, "b")]).await;
        let error = save(twice, dir.path().join("u3"), 1 << 20, &FORM)
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "field `name` was sent twice");
        let long = "y".repeat(MAX_TEXT_BYTES + 1);
        let huge = multipart(&[("levers", None, &long)]).await;
        let error = save(huge, dir.path().join("u4"), 1 << 20, &FORM)
            .await
            .unwrap_err();
        assert!(
            matches!(error, UploadError::BadText(ref f) if f == "levers"),
            "{error}"
        );
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn limits_read_in_mebibytes_and_a_declared_length_over_one_is_refused() {
        assert_eq!(mebibytes(256 * 1024 * 1024), "256 MiB");
        assert_eq!(mebibytes(512 * 1024), "0.50 MiB");
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, "2048".parse().unwrap());
        assert!(check_declared_length(&headers, 4096).is_ok());
        assert!(matches!(
            check_declared_length(&headers, 1024),
            Err(UploadError::TooLarge { limit: 1024 })
        ));
        assert!(check_declared_length(&HeaderMap::new(), 1).is_ok());
    }

    const FORM: [FormField; 6] = [
        FormField {
            name: "data",
            kind: FieldKind::File,
            required: true,
            description: "a file",
        },
        FormField {
            name: "dag",
            kind: FieldKind::File,
            required: false,
            description: "another file",
        },
        FormField {
            name: "name",
            kind: FieldKind::Text,
            required: false,
            description: "text",
        },
        FormField {
            name: "levers",
            kind: FieldKind::Text,
            required: false,
            description: "a list",
        },
        FormField {
            name: "seed",
            kind: FieldKind::Integer,
            required: false,
            description: "a number",
        },
        FormField {
            name: "refute",
            kind: FieldKind::Flag,
            required: false,
            description: "a check box",
        },
    ];

    /// What `save` says about the parts, each `(name, file name, content)`.
    async fn refusal(parts: &[(&str, Option<&str>, &str)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let upload_dir = dir.path().join("refused");
        let error = save(multipart(parts).await, upload_dir.clone(), 1 << 20, &FORM)
            .await
            .unwrap_err();
        assert!(!upload_dir.exists(), "a refused upload leaves nothing");
        error.to_string()
    }

    #[tokio::test]
    async fn each_part_is_checked_against_the_form_before_it_is_read() {
        assert_eq!(
            refusal(&[("data", Some("d.csv"), "a"), ("sed", None, "1")]).await,
            "unknown field `sed`; the form's fields are data, dag, name, levers, seed, refute"
        );
        assert_eq!(
            refusal(&[("data", None, "a")]).await,
            "field `data` must be an uploaded file"
        );
        assert_eq!(
            refusal(&[("seed", Some("s.txt"), "1")]).await,
            "field `seed` must be text, not a file"
        );
        assert_eq!(
            refusal(&[("refute", None, "y")]).await,
            "field `refute` cannot be `y`; send one of on, true, 1, yes, off, false, 0, no"
        );
    }

    #[test]
    fn the_form_schema_has_every_field_with_its_type() {
        let schema = serde_json::to_value(form_schema(&FORM)).unwrap();
        assert_eq!(schema["properties"]["data"]["format"], "binary");
        assert_eq!(schema["properties"]["seed"]["type"], "integer");
        assert_eq!(schema["required"], serde_json::json!(["data"]));
    }

    #[tokio::test]
    async fn flags_take_the_usual_words_for_on_and_off() {
        let dir = tempfile::tempdir().unwrap();
        for (word, on) in [
            ("on", true),
            ("TRUE", true),
            ("1", true),
            ("off", false),
            ("no", false),
        ] {
            let form = multipart(&[("refute", None, word)]).await;
            let upload = save(form, dir.path().join(word), 1024, &FORM)
                .await
                .unwrap();
            assert_eq!(upload.flag("refute"), on, "{word}");
        }
    }

    #[tokio::test]
    async fn a_handed_over_upload_stays_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let upload_dir = dir.path().join("kept");
        let form = multipart(&[("data", Some("d.csv"), "a,b\n")]).await;
        let mut upload = save(form, upload_dir.clone(), 1024, &FORM).await.unwrap();
        upload.hand_over();
        drop(upload);
        assert!(upload_dir.join("part0.csv").exists());
    }
}
