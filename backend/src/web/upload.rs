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

/// A whole multipart upload: files on disk, text fields in memory.
#[derive(Debug)]
pub struct Upload {
    /// The directory the files are in; the caller removes it when done with them.
    pub dir: PathBuf,
    /// File parts by field name.
    pub files: BTreeMap<String, SavedFile>,
    /// Text parts by field name (trimmed; an empty part counts as absent).
    pub fields: BTreeMap<String, String>,
}

impl Upload {
    /// A text field, if it was sent and not empty.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// Whether a check-box field is on (`on`, `true`, `1` or `yes`).
    pub fn flag(&self, name: &str) -> bool {
        self.field(name)
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1" | "yes"))
    }

    /// Refuses a field that `form` does not have (so that a misspelt one, `lever`,
    /// is not silently ignored), text sent for a file and a file sent for text.
    pub fn check_fields(&self, form: &[FormField]) -> Result<(), UploadError> {
        let refuse = |message: String| Err(UploadError::Field(message));
        let find = |name: &str| form.iter().find(|field| field.name == name);
        for (name, is_file) in self
            .files
            .keys()
            .map(|name| (name, true))
            .chain(self.fields.keys().map(|name| (name, false)))
        {
            match find(name) {
                None => {
                    let names: Vec<&str> = form.iter().map(|field| field.name).collect();
                    return refuse(format!(
                        "unknown field `{name}`; the form's fields are {}",
                        names.join(", ")
                    ));
                }
                Some(field) if field.is_file() && !is_file => {
                    return refuse(format!("field `{name}` must be an uploaded file"));
                }
                Some(field) if !field.is_file() && is_file => {
                    return refuse(format!("field `{name}` must be text, not a file"));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Removes the upload's files.
    pub fn remove(&self) {
        remove_dir(&self.dir);
    }
}

/// What a form field holds. Every kind but [`FieldKind::File`] arrives as text and
/// is parsed by the handler; the kind tells [`Upload::check_fields`] which parts
/// must be files and the OpenAPI document ([`form_schema`]) what to send.
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
    /// A check box: `on`, `true`, `1` or `yes` turn it on ([`Upload::flag`]).
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

/// Refuses a request whose declared length is over `limit`, before reading it.
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

/// Reads every part of `multipart` into `dir` (created here, and removed again on
/// any error), counting all bytes against `limit`.
pub async fn save(
    mut multipart: Multipart,
    dir: PathBuf,
    limit: u64,
) -> Result<Upload, UploadError> {
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| UploadError::Disk(format!("{}: {e}", dir.display())))?;
    let mut upload = Upload {
        dir,
        files: BTreeMap::new(),
        fields: BTreeMap::new(),
    };
    let mut total = 0u64;
    let result = async {
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let name = field.name().unwrap_or_default().to_string();
            if upload.files.contains_key(&name) || upload.fields.contains_key(&name) {
                return Err(UploadError::Duplicate(name));
            }
            if field.file_name().is_some() {
                let index = upload.files.len();
                let saved = save_file(field, &upload.dir, index, &mut total, limit).await?;
                upload.files.insert(name, saved);
            } else {
                let text = read_text(field, &name, &mut total, limit).await?;
                if !text.is_empty() {
                    upload.fields.insert(name, text);
                }
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(upload),
        Err(error) => {
            upload.remove();
            Err(error)
        }
    }
}

/// A multipart error, with the body limit (should axum's own trip) as a 413.
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

/// Removes an upload directory; a failure is logged, as the files are only
/// leftovers by then.
pub fn remove_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove an upload");
        }
    }
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
        let upload = save(form, upload_dir.clone(), 1024).await.unwrap();
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
        upload.remove();
        assert!(!upload_dir.exists());
    }

    #[tokio::test]
    async fn going_over_the_limit_mid_stream_stops_and_removes_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let upload_dir = dir.path().join("u2");
        let big = "x".repeat(5_000);
        let form = multipart(&[("name", None, "m"), ("data", Some("big.csv"), &big)]).await;
        let error = save(form, upload_dir.clone(), 4_096).await.unwrap_err();
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
        let error = save(twice, dir.path().join("u3"), 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "field `name` was sent twice");
        let long = "y".repeat(MAX_TEXT_BYTES + 1);
        let huge = multipart(&[("levers", None, &long)]).await;
        let error = save(huge, dir.path().join("u4"), 1 << 20)
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

    const FORM: [FormField; 2] = [
        FormField {
            name: "data",
            kind: FieldKind::File,
            required: true,
            description: "a file",
        },
        FormField {
            name: "seed",
            kind: FieldKind::Integer,
            required: false,
            description: "a number",
        },
    ];

    fn upload(files: &[&str], fields: &[&str]) -> Upload {
        let saved = |name: &&str| {
            let file = SavedFile {
                path: PathBuf::from(name),
                file_name: None,
                bytes: 1,
            };
            (name.to_string(), file)
        };
        Upload {
            dir: PathBuf::from("unused"),
            files: files.iter().map(saved).collect(),
            fields: fields
                .iter()
                .map(|name| (name.to_string(), "1".to_string()))
                .collect(),
        }
    }

    fn refusal(upload: &Upload) -> String {
        upload.check_fields(&FORM).unwrap_err().to_string()
    }

    #[test]
    fn fields_are_checked_against_the_form() {
        assert!(upload(&["data"], &["seed"]).check_fields(&FORM).is_ok());
        assert_eq!(
            refusal(&upload(&["data"], &["sed"])),
            "unknown field `sed`; the form's fields are data, seed"
        );
        assert_eq!(
            refusal(&upload(&[], &["data"])),
            "field `data` must be an uploaded file"
        );
        assert_eq!(
            refusal(&upload(&["seed"], &[])),
            "field `seed` must be text, not a file"
        );
    }

    #[test]
    fn the_form_schema_has_every_field_with_its_type() {
        let schema = serde_json::to_value(form_schema(&FORM)).unwrap();
        assert_eq!(schema["properties"]["data"]["format"], "binary");
        assert_eq!(schema["properties"]["seed"]["type"], "integer");
        assert_eq!(schema["required"], serde_json::json!(["data"]));
    }

    #[test]
    fn flags_take_the_usual_words_for_on() {
        let mut form = upload(&[], &[]);
        for (word, on) in [("on", true), ("TRUE", true), ("1", true), ("off", false)] {
            form.fields.insert("refute".into(), word.into());
            assert_eq!(form.flag("refute"), on, "{word}");
        }
        assert!(!upload(&[], &[]).flag("refute"));
    }
}
