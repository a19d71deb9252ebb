//! Model documents.
