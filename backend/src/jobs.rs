//! Fit jobs: a structural model fitted in the background from an uploaded CSV and
//! a DAG (or a graph discovered from the data), saved as the next version of a
//! named model.
//!
//! [`prepare`] checks a request before any work is queued: the name, the graph, that
//! every graph node is a column of the CSV's header and that the levers and KPIs are
//! nodes. A request that passes becomes a job; its [`JobStatus`] is published on a
//! watch channel at every step of the fit, which the API streams as server-sent
//! events. One job fits at a time (fits use every core); the others wait queued.
//!
//! Cancelling sets `cancel_requested`, which a queued job sees at once and a
//! running one between variables (and PC's tests). The job then ends as cancelled
//! without saving. Once it is saving (state `saving`), a cancel is refused: the
//! check and the switch to `saving` happen under the status channel's lock, so a
//! cancel that was accepted is never followed by a saved version. The uploaded
//! files are removed when the job ends, however it ends. On shutdown every job is
//! cancelled and event streams end. Jobs live in memory: a restart forgets them
//! (their saved models stay).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use causeway_estimators::data::{Dataset, LoadOptions};
use causeway_estimators::discover::{discover_with_progress, Knowledge, PcParams};
use causeway_estimators::graph::CausalGraph;
use causeway_estimators::learners::forest::ForestParams;
use causeway_estimators::progress::Progress;
use causeway_estimators::scm::document::{sha256_hex, VariableNotes};
use causeway_estimators::scm::{FitOptions, MechanismChoice, StructuralModel};
use serde::Serialize;
use tokio::sync::{watch, Semaphore};

use crate::clock::now_rfc3339;
use crate::store::{validate_name, ModelStore, StoreError};

/// Jobs kept for their status after they end; beyond it the oldest ended are dropped.
const MAX_FINISHED_JOBS: usize = 200;

/// Jobs that may wait for their turn; beyond it a new one is refused (each holds its
/// upload on disk while it waits).
pub const MAX_QUEUED_JOBS: usize = 8;

/// Where a job's graph comes from.
#[derive(Debug)]
pub enum GraphSource {
    /// An uploaded DAG, already parsed and checked against the CSV's header.
    Given(CausalGraph),
    /// PC discovery on the uploaded data; the job fails if it leaves an edge
    /// undirected, as a structural model needs every direction.
    Discover,
}

/// A fit request that passed [`prepare`].
#[derive(Debug)]
pub struct FitSpec {
    /// The model's name; the store gives it the next version.
    pub name: String,
    /// The uploaded CSV.
    pub data: PathBuf,
    /// What people call the CSV in messages (the name it was uploaded as).
    pub data_label: String,
    /// The graph.
    pub graph: GraphSource,
    /// Variables the business can change.
    pub levers: Vec<String>,
    /// Outcomes the business watches.
    pub kpis: Vec<String>,
    /// Mechanism of continuous variables.
    pub mechanism: MechanismChoice,
    /// Drop rows with missing values instead of failing.
    pub drop_missing: bool,
    /// Seed of the held-out split, the kept sample and the forests.
    pub seed: u64,
    /// The upload's directory, removed when the job ends.
    pub upload_dir: PathBuf,
    /// Who started the job, recorded as the version's author.
    pub created_by: Option<String>,
    /// What people call the variables ([`crate::notes`]).
    pub notes: BTreeMap<String, VariableNotes>,
}

/// What a person asked for, before checking (the API's and the page's form fields).
#[derive(Debug, Default)]
pub struct FitForm {
    /// `name`.
    pub name: Option<String>,
    /// The uploaded CSV (`data`) and the name it was uploaded as.
    pub data: Option<(PathBuf, String)>,
    /// The uploaded DAG (`dag`): its path and the name that picks its format.
    pub dag: Option<(PathBuf, String)>,
    /// The uploaded notes (`notes`): what people call the variables.
    pub notes: Option<(PathBuf, String)>,
    /// `discover`: find the graph from the data instead.
    pub discover: bool,
    /// `levers` (sent comma-separated).
    pub levers: Vec<String>,
    /// `kpis` (sent comma-separated).
    pub kpis: Vec<String>,
    /// `mechanism`: linear (default), forest or auto.
    pub mechanism: Option<String>,
    /// `drop_missing`.
    pub drop_missing: bool,
    /// `seed`.
    pub seed: Option<u64>,
    /// Who is asking (the version's author), from the request's token.
    pub created_by: Option<String>,
}

/// Why a fit request was refused before it became a job.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A field is missing or malformed.
    #[error("{0}")]
    Invalid(String),
    /// The DAG file does not parse.
    #[error("{0}")]
    Graph(String),
    /// The DAG has a directed cycle.
    #[error("{0}")]
    Cyclic(String),
    /// The CSV does not have the graph's variables, or a lever or KPI is not in
    /// the graph.
    #[error("{0}")]
    Mismatch(String),
}

impl PrepareError {
    /// The API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            PrepareError::Invalid(_) => "invalid_request",
            PrepareError::Graph(_) => "invalid_graph",
            PrepareError::Cyclic(_) => "invalid_model",
            PrepareError::Mismatch(_) => "data_mismatch",
        }
    }
}

/// Checks a fit request: see the module documentation. Cheap: it reads the DAG and
/// the CSV's header row, not the data.
pub fn prepare(form: FitForm, upload_dir: &Path) -> Result<FitSpec, PrepareError> {
    let invalid = |message: &str| PrepareError::Invalid(message.to_string());
    let name = form
        .name
        .ok_or_else(|| invalid("give the model a name (field `name`)"))?;
    validate_name(&name).map_err(|e| PrepareError::Invalid(e.to_string()))?;
    let (data, data_label) = form
        .data
        .ok_or_else(|| invalid("upload the data as a CSV file (field `data`)"))?;
    let (levers, kpis) = (form.levers, form.kpis);
    if levers.is_empty() || kpis.is_empty() {
        return Err(invalid(
            "name the levers and the KPIs (fields `levers` and `kpis`, comma-separated variable names)",
        ));
    }
    let mechanism = match form.mechanism.as_deref() {
        None => MechanismChoice::Linear,
        Some(text) => text
            .parse::<MechanismChoice>()
            .map_err(|e| PrepareError::Invalid(format!("field `mechanism`: {e}")))?,
    };
    let seed = form.seed.unwrap_or(0);
    let header = causeway_estimators::data::csv_header(&data, &data_label)
        .map_err(|e| PrepareError::Invalid(e.to_string()))?;
    let graph = match (form.dag, form.discover) {
        (Some(_), true) => {
            return Err(invalid(
                "upload a DAG or ask for discovery (`discover`), not both",
            ))
        }
        (None, false) => {
            return Err(invalid(
                "upload a DAG (field `dag`: GraphML, DOT or an edge list) or ask for discovery (`discover`)",
            ))
        }
        (None, true) => {
            for name in levers.iter().chain(&kpis) {
                if !header.contains(name) {
                    return Err(PrepareError::Mismatch(format!(
                        "{}",
                        causeway_estimators::Error::unknown_variable(
                            name,
                            header.iter().map(String::as_str)
                        )
                    )));
                }
            }
            GraphSource::Discover
        }
        (Some((path, file_name)), false) => {
            let text = std::fs::read_to_string(&path).map_err(|_| {
                PrepareError::Graph(format!("{file_name}: the DAG is not UTF-8 text"))
            })?;
            let graph = CausalGraph::parse_named(&text, &file_name).map_err(|e| match e {
                causeway_estimators::Error::Cyclic { .. } => {
                    PrepareError::Cyclic(format!("{file_name}: {e}"))
                }
                _ => PrepareError::Graph(e.to_string()),
            })?;
            if let Some(latent) = graph.latent_names().first() {
                return Err(PrepareError::Mismatch(format!(
                    "{file_name} declares a hidden common cause (`{latent}`, from a `<->` edge); a structural model needs every common cause observed — add it as a column or remove the edge"
                )));
            }
            check_graph_against(&graph, &header, &data_label, &levers, &kpis)?;
            GraphSource::Given(graph)
        }
    };
    // Notes name variables of the DAG, or, before discovery, columns of the data.
    let notes = match &form.notes {
        None => BTreeMap::new(),
        Some((path, file_name)) => {
            let text = std::fs::read_to_string(path).map_err(|_| {
                PrepareError::Invalid(format!("{file_name}: the notes are not UTF-8 text"))
            })?;
            let variables: Vec<&str> = match &graph {
                GraphSource::Given(graph) => graph.node_names().collect(),
                GraphSource::Discover => header.iter().map(String::as_str).collect(),
            };
            crate::notes::parse(&text, file_name, &variables).map_err(PrepareError::Invalid)?
        }
    };
    Ok(FitSpec {
        name,
        data,
        data_label,
        graph,
        levers,
        kpis,
        mechanism,
        drop_missing: form.drop_missing,
        seed,
        upload_dir: upload_dir.to_path_buf(),
        created_by: form.created_by,
        notes,
    })
}

/// Every observed node must be a column, and the levers and KPIs must be nodes;
/// the message lists every missing column at once, so one upload fixes them all.
fn check_graph_against(
    graph: &CausalGraph,
    header: &[String],
    data_label: &str,
    levers: &[String],
    kpis: &[String],
) -> Result<(), PrepareError> {
    let latent = graph.latent_names();
    let missing: Vec<&str> = graph
        .node_names()
        .filter(|name| !latent.contains(name) && !header.iter().any(|h| h == name))
        .collect();
    if !missing.is_empty() {
        return Err(PrepareError::Mismatch(format!(
            "the CSV does not match the DAG: {data_label} has no column{} {} (its columns: {})",
            if missing.len() == 1 { "" } else { "s" },
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            header.join(", ")
        )));
    }
    for name in levers.iter().chain(kpis) {
        if !graph.contains(name) {
            return Err(PrepareError::Mismatch(format!(
                "{} (levers and KPIs must be variables of the DAG)",
                causeway_estimators::Error::unknown_variable(name, graph.node_names())
            )));
        }
    }
    Ok(())
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for the job ahead of it.
    Queued,
    /// Reading, discovering or fitting.
    Running,
    /// Saving the new version: too late to cancel.
    Saving,
    /// Saved as a new model version.
    Succeeded,
    /// Stopped by an error, which `error` says.
    Failed,
    /// Stopped on request; nothing was saved.
    Cancelled,
}

impl JobState {
    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A job as the API and the page show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct JobStatus {
    /// The job's id.
    pub id: String,
    /// The model the job saves a version of.
    pub model: String,
    /// Where it is.
    pub state: JobState,
    /// What it is doing now (`fitting \`sales\``), or how it ended.
    pub stage: String,
    /// Steps done of `total` (one per variable, and one for the edge effects).
    pub done: usize,
    /// Steps in all; 0 until the data is read.
    pub total: usize,
    /// Whether a cancel was asked for (the job stops at its next step).
    pub cancel_requested: bool,
    /// When the job was started.
    pub created_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// The saved version (`name@3`) once it succeeded.
    pub model_id: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A job: its status, which also holds the cancel request, so that deciding to
/// cancel and deciding to save happen under one lock.
struct Job {
    status: watch::Sender<JobStatus>,
}

impl Job {
    fn update(&self, change: impl FnOnce(&mut JobStatus)) {
        self.status.send_modify(change);
    }

    fn state(&self) -> JobState {
        self.status.borrow().state
    }

    fn cancel_requested(&self) -> bool {
        self.status.borrow().cancel_requested
    }

    /// Moves the job to `state` unless a cancel was asked for; says whether it did.
    fn advance_unless_cancelled(&self, state: JobState, stage: &str) -> bool {
        self.status.send_if_modified(|status| {
            if status.cancel_requested {
                return false;
            }
            status.state = state;
            status.stage = stage.to_string();
            true
        })
    }
}

/// Why a job could not be cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// No such job (or it ended long ago and was forgotten).
    #[error("no job `{0}`; GET /api/v1/jobs lists the jobs")]
    NotFound(String),
    /// The job has ended, or is saving its version.
    #[error("{}", too_late(id, *state))]
    TooLate { id: String, state: JobState },
}

fn too_late(id: &str, state: JobState) -> String {
    match state {
        JobState::Saving => {
            format!("job `{id}` is saving its model version; it can no longer be cancelled")
        }
        JobState::Succeeded => {
            format!("job `{id}` has already ended (succeeded); there is nothing to cancel")
        }
        JobState::Failed => {
            format!("job `{id}` has already ended (failed); there is nothing to cancel")
        }
        _ => format!("job `{id}` has already ended (cancelled); there is nothing to cancel"),
    }
}

/// The running and recent fit jobs.
pub struct Jobs {
    store: Arc<dyn ModelStore>,
    uploads: PathBuf,
    jobs: Mutex<JobTable>,
    /// One fit at a time: a fit already uses every core.
    permits: Semaphore,
    /// Set when the server shuts down: jobs are cancelled and event streams end.
    shutdown: watch::Sender<bool>,
}

#[derive(Default)]
struct JobTable {
    by_id: BTreeMap<String, Arc<Job>>,
    /// Ids, oldest first, for forgetting ended jobs beyond [`MAX_FINISHED_JOBS`].
    order: VecDeque<String>,
}

impl Jobs {
    /// Jobs that save into `store` and keep uploads under `data_dir/uploads`.
    /// Uploads left there by a server that stopped mid-job belong to jobs no one
    /// remembers: they are removed.
    pub fn new(store: Arc<dyn ModelStore>, data_dir: &Path) -> Self {
        let uploads = data_dir.join("uploads");
        if uploads.exists() {
            tracing::info!(dir = %uploads.display(), "removing uploads of earlier runs");
            remove_upload_dir(&uploads);
        }
        Jobs {
            store,
            uploads,
            jobs: Mutex::new(JobTable::default()),
            permits: Semaphore::new(1),
            shutdown: watch::Sender::new(false),
        }
    }

    /// A fresh directory name for one upload (created by the uploader).
    pub fn new_upload_dir(&self) -> PathBuf {
        self.uploads.join(format!("{:016x}", rand::random::<u64>()))
    }

    /// Queues `spec` and returns its first status; the job runs on its own.
    pub fn start(self: &Arc<Self>, spec: FitSpec) -> JobStatus {
        let id = format!("{:012x}", rand::random::<u64>() >> 16);
        let status = JobStatus {
            id: id.clone(),
            model: spec.name.clone(),
            state: JobState::Queued,
            stage: "queued".into(),
            done: 0,
            total: 0,
            cancel_requested: false,
            created_at: now_rfc3339(),
            finished_at: None,
            model_id: None,
            error: None,
        };
        let job = Arc::new(Job {
            status: watch::Sender::new(status.clone()),
        });
        self.remember(id.clone(), Arc::clone(&job));
        tracing::info!(job = %id, model = %spec.name, "fit job queued");
        let jobs = Arc::clone(self);
        tokio::spawn(async move {
            let upload_dir = spec.upload_dir.clone();
            // The job runs in a task of its own, so that even a panic in it ends
            // the job as failed, its files removed and its streams closed.
            let running = tokio::spawn({
                let job = Arc::clone(&job);
                async move { jobs.run(&job, spec).await }
            });
            let ended = running.await.unwrap_or_else(|e| {
                tracing::error!(cause = %e, "a fit job stopped unexpectedly");
                Err(JobEnd::Failed(
                    "the job stopped unexpectedly; see the server log".into(),
                ))
            });
            remove_upload_dir(&upload_dir);
            job.update(|status| {
                match ended {
                    Ok(model_id) => {
                        status.state = JobState::Succeeded;
                        status.stage = format!("saved as {model_id}");
                        status.done = status.total;
                        status.model_id = Some(model_id);
                    }
                    Err(JobEnd::Cancelled) => {
                        status.state = JobState::Cancelled;
                        status.stage = "cancelled; nothing was saved".into();
                    }
                    Err(JobEnd::Failed(message)) => {
                        status.state = JobState::Failed;
                        status.stage = "failed".into();
                        status.error = Some(message);
                    }
                }
                status.finished_at = Some(now_rfc3339());
            });
            let status = job.status.borrow().clone();
            tracing::info!(job = %status.id, state = ?status.state, "fit job ended");
        });
        status
    }

    async fn run(&self, job: &Arc<Job>, spec: FitSpec) -> Result<String, JobEnd> {
        // A queued job waits for the one ahead of it, or for its cancel.
        let mut status = job.status.subscribe();
        let _permit = tokio::select! {
            permit = self.permits.acquire() => permit
                .map_err(|_| JobEnd::Failed("the server is shutting down".into()))?,
            _ = status.wait_for(|s| s.cancel_requested) => return Err(JobEnd::Cancelled),
        };
        if !job.advance_unless_cancelled(JobState::Running, "reading the data") {
            return Err(JobEnd::Cancelled);
        }
        let name = spec.name.clone();
        let fitting = Arc::clone(job);
        let (document, mechanisms) = tokio::task::spawn_blocking(move || fit(&fitting, &spec))
            .await
            .map_err(|e| JobEnd::Failed(format!("the fit stopped unexpectedly: {e}")))??;
        // The last chance to cancel: from here on the version will exist.
        if !job.advance_unless_cancelled(JobState::Saving, "saving") {
            return Err(JobEnd::Cancelled);
        }
        let saved = self
            .store
            .save_with_mechanisms(document, Some(Arc::from(mechanisms.as_str())))
            .await
            .map_err(|e| match e {
                StoreError::Backend(cause) => {
                    tracing::error!(%cause, model = %name, "saving a fitted model failed");
                    JobEnd::Failed("the model store failed; see the server log".into())
                }
                other => JobEnd::Failed(other.to_string()),
            })?;
        Ok(saved.model_id)
    }

    fn remember(&self, id: String, job: Arc<Job>) {
        let mut table = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        table.by_id.insert(id.clone(), job);
        table.order.push_back(id);
        let ended = table
            .order
            .iter()
            .filter(|id| table.by_id.get(*id).is_some_and(|j| j.state().is_final()))
            .count();
        for _ in MAX_FINISHED_JOBS..ended {
            let oldest = table
                .order
                .iter()
                .position(|id| table.by_id.get(id).is_some_and(|j| j.state().is_final()));
            if let Some(position) = oldest {
                if let Some(id) = table.order.remove(position) {
                    table.by_id.remove(&id);
                }
            }
        }
    }

    fn job(&self, id: &str) -> Option<Arc<Job>> {
        let table = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        table.by_id.get(id).cloned()
    }

    /// Whether a new job can be queued: refused while [`MAX_QUEUED_JOBS`] wait.
    pub fn has_room(&self) -> bool {
        let table = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let queued = table
            .by_id
            .values()
            .filter(|job| job.state() == JobState::Queued)
            .count();
        queued < MAX_QUEUED_JOBS
    }

    /// A job's status now.
    pub fn status(&self, id: &str) -> Option<JobStatus> {
        self.job(id).map(|job| job.status.borrow().clone())
    }

    /// Every remembered job, newest first.
    pub fn list(&self) -> Vec<JobStatus> {
        let table = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        table
            .order
            .iter()
            .rev()
            .filter_map(|id| table.by_id.get(id))
            .map(|job| job.status.borrow().clone())
            .collect()
    }

    /// A receiver that sees every change of the job's status.
    pub fn watch(&self, id: &str) -> Option<watch::Receiver<JobStatus>> {
        self.job(id).map(|job| job.status.subscribe())
    }

    /// Asks a job to stop; it does at its next step (a queued job at once) and saves
    /// nothing. Refused once the job is saving or has ended.
    pub fn cancel(&self, id: &str) -> Result<JobStatus, CancelError> {
        let job = self
            .job(id)
            .ok_or_else(|| CancelError::NotFound(id.to_string()))?;
        let mut too_late = None;
        job.status.send_if_modified(|status| {
            if status.state.is_final() || status.state == JobState::Saving {
                too_late = Some(status.state);
                return false;
            }
            status.cancel_requested = true;
            true
        });
        if let Some(state) = too_late {
            return Err(CancelError::TooLate {
                id: id.to_string(),
                state,
            });
        }
        tracing::info!(job = %id, "fit job cancel requested");
        let status = job.status.borrow().clone();
        Ok(status)
    }

    /// Cancels every job and ends every event stream: the server is stopping.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        let ids: Vec<String> = {
            let table = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            table.order.iter().cloned().collect()
        };
        for id in ids {
            // Ended and saving jobs refuse, which is what they should do.
            let _ = self.cancel(&id);
        }
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn shutting_down(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// How a job ended, other than with a saved version.
enum JobEnd {
    Cancelled,
    Failed(String),
}

impl From<causeway_estimators::Error> for JobEnd {
    fn from(error: causeway_estimators::Error) -> Self {
        match error {
            causeway_estimators::Error::Cancelled => JobEnd::Cancelled,
            other => JobEnd::Failed(other.to_string()),
        }
    }
}

/// Shows a computation's steps in its job's status, and stops the computation at its
/// next step once a cancel is asked for.
struct JobProgress<'a> {
    job: &'a Job,
    /// Put before each stage's name.
    prefix: &'static str,
    /// Steps the job has after the computation's own.
    steps_after: usize,
}

impl Progress for JobProgress<'_> {
    fn step(&self, stage: &str, done: usize, total: usize) -> causeway_estimators::Result<()> {
        self.job.update(|status| {
            status.stage = format!("{}{stage}", self.prefix);
            status.done = done;
            status.total = total + self.steps_after;
        });
        if self.job.cancel_requested() {
            Err(causeway_estimators::Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Removes an upload directory; a failure is logged, as the files are only
/// leftovers by then.
pub fn remove_upload_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove an upload");
        }
    }
}

/// The blocking part of a job: read, discover if asked, fit, and write the document.
fn fit(
    job: &Job,
    spec: &FitSpec,
) -> Result<(causeway_estimators::model::ModelDocument, String), JobEnd> {
    let bytes = std::fs::read(&spec.data)
        .map_err(|e| JobEnd::Failed(format!("the uploaded data could not be read again: {e}")))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| JobEnd::Failed(format!("{}: the CSV is not UTF-8 text", spec.data_label)))?;
    let options = LoadOptions {
        drop_missing: spec.drop_missing,
        ..LoadOptions::default()
    };
    let data = Dataset::from_csv_str(text, &spec.data_label, &options)?;
    if job.cancel_requested() {
        return Err(JobEnd::Cancelled);
    }
    let discovered;
    let graph = match &spec.graph {
        GraphSource::Given(graph) => graph,
        GraphSource::Discover => {
            job.update(|status| status.stage = "discovering the graph (PC)".into());
            let progress = JobProgress {
                job,
                prefix: "discovering the graph (PC): ",
                steps_after: 0,
            };
            discovered = discovered_dag(&data, &progress)?;
            &discovered
        }
    };
    let options = FitOptions {
        mechanism: spec.mechanism,
        forest: ForestParams {
            seed: spec.seed,
            ..ForestParams::default()
        },
        seed: spec.seed,
        levers: spec.levers.clone(),
        kpis: spec.kpis.clone(),
        ..FitOptions::default()
    };
    // One step more than the fit's own: saving, so the bar is full only once saved.
    let progress = JobProgress {
        job,
        prefix: "",
        steps_after: 1,
    };
    let model = StructuralModel::fit_with_progress(&data, graph, &options, &progress)?;
    let (mut document, mechanisms) =
        model.to_document(&spec.name, &spec.notes, &sha256_hex(&bytes), &now_rfc3339())?;
    document.created_by = spec.created_by.clone();
    Ok((document, mechanisms))
}

/// The DAG PC finds in `data`, when it orients every edge.
fn discovered_dag(data: &Dataset, progress: &dyn Progress) -> Result<CausalGraph, JobEnd> {
    let cpdag = discover_with_progress(
        data,
        &Knowledge::default(),
        &[],
        &PcParams::default(),
        progress,
    )?;
    let open: Vec<String> = cpdag
        .edges
        .iter()
        .filter(|e| !e.oriented)
        .map(|e| format!("{} — {}", e.source, e.target))
        .collect();
    if !open.is_empty() {
        return Err(JobEnd::Failed(format!(
            "discovery could not orient {} edge{}: {}; upload a DAG that decides them (`causeway discover` shows the evidence)",
            open.len(),
            if open.len() == 1 { "" } else { "s" },
            open.join(", ")
        )));
    }
    let edges: Vec<(String, String)> = cpdag
        .edges
        .iter()
        .map(|e| (e.source.clone(), e.target.clone()))
        .collect();
    Ok(CausalGraph::from_edges(&edges, &[])?)
}
