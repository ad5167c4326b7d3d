//! Browser end-to-end tests (stub).
mod support;
