//! End-to-end tests: the `causeway` binary run as a process, as a user runs it.
//! One test binary with a module per area keeps link time down.

mod auth;
mod browser;
mod browser_browse;
mod browser_chat;
mod browser_fit;
mod cli_demo;
mod cli_discover;
mod cli_draft;
mod cli_estimate;
mod cli_models;
mod cli_progress;
mod cli_rca;
mod helpers;
mod server;
mod slack;
mod store_conformance;
mod store_neo4j;
mod web_browse;
mod web_chat;
mod web_estimate;
mod web_jobs;
mod web_openapi;
