//! `tandem lint`: a migration safety linter on the real PostgreSQL parser.
//!
//! What this crate is for: reading SQL migrations (and the `sql` operations of tandem
//! migrations) as the frameworks that run them lay them out, and returning findings about the
//! statements that would lock, rewrite, scan or break a production database, with what to run
//! instead; turning a SQL migration into a tandem migration (`convert`); and, given a
//! connection by the caller, weighing findings with a live database's table sizes (`live`) or
//! observing what a throwaway server really does (`trace`). What it must not do: print,
//! exit, parse command lines or open connections of its own (tandem-cli does all of that);
//! change a live database (`--url` is read-only; `--trace` only runs on a database the caller
//! made for it); or depend on tandem-pg's engine (lint → core only, plus tokio-postgres).
//!
//! How: files are grouped into migration sets ([`sets`]) and linted in their framework's
//! order ([`project`]). A file is parsed once by libpg_query ([`parse`], with `DO` bodies
//! through the PL/pgSQL parser, [`plpgsql`]); [`state`] then walks its statements in order,
//! keeping what a later statement needs to know (tables created or emptied in the file, the
//! transaction, `lock_timeout`, the session time zone), and every rule of
//! [`rules::REGISTRY`] looks at each statement with that context. Which statement takes which
//! lock lives in [`locks`], shared by all rules.

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
pub mod rails;
pub mod rule;
pub mod rules;
pub mod schema;
pub mod sets;
pub mod source;
pub mod state;
pub mod statement;
pub mod trace;

pub use engine::{lint_sql, Linter};
pub use finding::{Finding, Severity};
pub use project::{lint_paths, Report};
pub use rule::Rule;
