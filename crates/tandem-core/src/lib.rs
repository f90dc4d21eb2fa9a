//! tandem's core: it turns a migration file into a plan. It holds the migration model and its
//! strict parser, the logical schema (every table and column under the name a version sees
//! and the name it has in the database), the operations, and the planner that compiles them
//! into a [`Plan`]: every statement of start, complete and rollback with the lock it takes,
//! the dual-write triggers, backfills and verifications, as data.
//!
//! What it must not do: talk to a database, print, read the clock or the environment, or
//! depend on anything that does. The facts it needs about the server come in as values
//! ([`Schema`], [`PlanContext`]); `tandem-pg` gathers them and runs the plans. Its one piece of
//! I/O is [`Migration::from_file`], which reads the one file it is given (and nothing else);
//! [`Migration::parse`] is the same without it, for callers that read the file themselves.
//!
//! Every identifier and literal it writes into SQL goes through [`quote`]; every statement of
//! a zero-downtime change (concurrent indexes, NOT VALID constraints, validation, renames) is
//! written by one module, `ddl`; SQL expressions from the file are rewritten through the
//! parser in `tandem-sql`, never by substring.

mod ddl;
mod error;
mod expressions;
mod integer_types;
mod keywords;
pub mod locks;
pub mod migration;
pub mod names;
pub mod operations;
pub mod plan;
pub mod planner;
pub mod quote;
pub mod schema;
mod sync;
pub mod versions;

pub use migration::{Migration, ParseError};
pub use operations::{Operation, PlanContext};
pub use plan::{Action, Phase, Plan, Step};
pub use planner::{plan_migration, PlanError, Planned, Probe, ProbeKind};
pub use schema::Schema;
pub use sync::{expression_search_path, DUAL_WRITE_TRIGGER};
