//! Causeway's application layer: the command line today; the server, stores and
//! chat build on it.

pub mod auth;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod engine;
pub mod estimation;
pub mod jobs;
pub mod llm;
pub mod notes;
pub mod planner;
pub mod store;
pub mod web;
