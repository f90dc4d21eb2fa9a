//! `tandem lint`: a migration safety linter on the real PostgreSQL parser.
//!
//! A file is parsed once by libpg_query ([`parse`]); [`state`] then walks its statements in
//! order, keeping what a later statement needs to know (tables created in the file, the
//! transaction, `lock_timeout`), and every rule of [`rules::REGISTRY`] looks at each statement
//! with that context. Which statement takes which lock lives in [`locks`], shared by all rules.

pub mod ast;
pub mod config;
pub mod convert;
pub mod docs;
pub mod engine;
pub mod facts;
pub mod finding;
pub mod input;
pub mod lexer;
pub mod live;
pub mod locks;
pub mod output;
pub mod parse;
pub mod plpgsql;
pub mod project;
pub mod rule;
pub mod rules;
pub mod schema;
pub mod sets;
pub mod source;
pub mod state;
pub mod trace;

pub use engine::{lint_sql, Linter};
pub use finding::{Finding, Severity};
pub use project::{lint_paths, Report};
pub use rule::Rule;
