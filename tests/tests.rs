//! End-to-end tests: the `causeway` binary run as a process.
