//! End-to-end tests of the built binary, all linked into one test binary so
//! that one moto server serves them all. They drive Unix shells, terminals
//! and file modes: on Windows they are not built.

#![cfg(unix)]

mod callers;
mod cmd;
mod core;
mod desktop;
mod faults;
mod floor;
mod journey;
mod keyring;
mod network;
mod powershell;
mod profiles;
mod prompt;
mod review;
mod roles;
mod rotate;
mod server;
mod sessions;
pub mod shells;
mod support;
mod trust;
