//! SSH adapter against a real OpenSSH sshd (started per test by
//! `oriel_testkit::sshd`, as root like CI).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod auth;
mod sftp;
mod support;
mod terminal;
